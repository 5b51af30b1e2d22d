"""doctor: the usual reasons a container network does not work, each with its fix."""

from __future__ import annotations

import argparse
from typing import Any

from wirework.cli.app import add_common, add_json, session
from wirework.cli.render import dumps


def register(sub: Any) -> None:
    p = sub.add_parser("doctor", help="find what keeps guests from talking (forwarding, firewalls, collisions, MTU)")
    add_json(p)
    p.add_argument("--root", default="/", help=argparse.SUPPRESS)  # config files under another root (tests)
    add_common(p)
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    findings = session(args).doctor(root=args.root)
    if args.json:
        print(dumps({"ok": not findings, "findings": [f.to_dict() for f in findings]}))
    elif not findings:
        print("no problems found")
    else:
        for f in findings:
            print(f"[{f.severity}] {f.what}\n    why: {f.why}\n    fix: {f.fix}")
    return 1 if findings else 0

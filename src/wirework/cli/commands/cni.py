"""`wirework cni install|plugin`: wirework as a CNI plugin (see `wirework.cni`)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from wirework.cli.app import add_dry_run, add_json
from wirework.cli.render import dumps


def register(sub: Any) -> None:
    p = sub.add_parser("cni", help="wirework as a CNI plugin (podman, containerd, CRI-O, Kubernetes)")
    actions = p.add_subparsers(dest="cni_action", metavar="ACTION", required=True)
    i = actions.add_parser("install", help="write the 'wirework' plugin launcher into a CNI plugin directory")
    i.add_argument("--dir", default="/opt/cni/bin", help="the runtime's CNI_PATH directory (default /opt/cni/bin)")
    add_dry_run(i, plan=False)
    add_json(i)
    i.set_defaults(func=cmd_install)
    r = actions.add_parser("plugin", help="serve one CNI request: CNI_* variables from the environment, the "
                                          "configuration on stdin (what the launcher runs)")
    # Its answer is the CNI result, JSON already; --dry-run reads the request and says what it is.
    add_dry_run(r, plan=False)
    add_json(r)
    r.set_defaults(func=cmd_plugin)


def cmd_install(args: argparse.Namespace) -> int:
    from wirework.cni.install import PLUGIN_NAME, install

    if getattr(args, "dry_run", False):
        path = os.path.join(args.dir, PLUGIN_NAME)
        print(dumps({"dry_run": True, "would_write": path}) if args.json else f"would write the launcher {path}")
        return 0
    path = install(args.dir)
    if args.json:
        print(dumps({"installed": path}))
    else:
        print(f"installed the CNI plugin launcher {path} (\"type\": \"wirework\" in a network configuration)")
    return 0


def cmd_plugin(args: argparse.Namespace) -> int:
    from wirework.cli import sessions
    from wirework.cni.handler import handle

    env = {k: v for k, v in os.environ.items() if k.startswith(("CNI_", "WIREWORK_")) or k == "PATH"}
    stdin = sys.stdin.read() if sys.stdin is not None else ""
    if getattr(args, "dry_run", False):
        request = {k[4:].lower(): v for k, v in env.items() if k.startswith("CNI_")}
        print(dumps({"dry_run": True, "request": request, "config_bytes": len(stdin)}))
        return 0
    # Inside the service sessions stay open for the next request; a one-shot process closes its own.
    factory = sessions.get_session if sessions.KEEP_SESSIONS else None
    code, out = handle(env, stdin, factory, log=lambda line: print(line, file=sys.stderr))
    sys.stdout.write(out)
    return code

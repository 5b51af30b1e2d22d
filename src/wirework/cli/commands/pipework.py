"""`wirework pipework ...` (pipework's whole command line) and route/rule/tc inside a guest."""

from __future__ import annotations

import argparse
import time
from typing import Any

from wirework.cli.app import add_common, add_dry_run, add_json, session
from wirework.cli.commands.attach import print_attach
from wirework.cli.pipework_args import USAGE, parse, split_own_options
from wirework.cli.render import PLAN_FORMATS, dumps, show_plan
from wirework.errors import InvalidInput, WireworkError


def register(sub: Any) -> None:
    p = sub.add_parser("pipework", help="pipework's command line, accepted unchanged",
                       usage=USAGE.removeprefix("usage: "),
                       description="Runs a pipework command line through wirework (planned, reversible). "
                                   "wirework's own options (--dry-run, --format, --json, --netns, --state-dir, "
                                   "--timeout) may stand anywhere in it.")
    add_dry_run(p)
    add_json(p)
    p.add_argument("--timeout", type=float, default=0.0, help="--wait: give up after this many seconds (0: never)")
    add_common(p)
    p.add_argument("words", nargs=argparse.REMAINDER, help="pipework's arguments")
    p.set_defaults(func=cmd_pipework)
    for what, example in (("route", "add 192.168.0.0/16 via 192.168.1.1 dev eth1"),
                          ("rule", "add from 10.0.0.0/24 table 100"),
                          ("tc", "qdisc add dev eth1 root tbf rate 10mbit burst 10kb latency 50ms")):
        p = sub.add_parser(what, help=f"{what} inside a guest's network namespace (e.g. {example})")
        p.add_argument("guest")
        add_dry_run(p)
        add_json(p)
        add_common(p)
        p.add_argument("words", nargs=argparse.REMAINDER, metavar="ARGS", help=f"what 'ip {what}' or tc takes")
        p.set_defaults(func=cmd_guest, what=what)


def cmd_guest(args: argparse.Namespace) -> int:
    ww = session(args)
    plan = ww.guest_command(args.what, args.guest, list(args.words), dry_run=args.dry_run)
    return _after_guest_command(ww, plan, args)


def _after_guest_command(ww: Any, plan: Any, args: argparse.Namespace) -> int:
    if args.dry_run:
        return show_plan(args, plan, ww.commands(plan))
    if args.json:
        print(dumps({"done": [s.describe() for s in plan.steps]}))
    return 0


def cmd_pipework(args: argparse.Namespace) -> int:
    words = list(args.words)
    if words and words[0] == "--":
        words = words[1:]
    own, words = split_own_options(words)
    args.dry_run = args.dry_run or "--dry-run" in own
    args.json = args.json or "--json" in own
    args.format = own.get("--format", args.format)
    args.netns = own.get("--netns", args.netns)
    args.state_dir = own.get("--state-dir", args.state_dir)
    args.timeout = float(own.get("--timeout", args.timeout))
    if args.format not in PLAN_FORMATS:
        raise InvalidInput(what="--format", value=args.format, why=f"use one of {', '.join(PLAN_FORMATS)}")
    cmd = parse(words)
    if cmd.action == "wait":
        code = wait_for_interface(cmd.ifname, args.timeout)
        if args.json:
            print(dumps({"ifname": cmd.ifname, "up": True}))
        return code
    ww = session(args)
    if cmd.action in ("route", "rule", "tc"):
        plan = ww.guest_command(cmd.action, cmd.guest, list(cmd.args), dry_run=args.dry_run)
        return _after_guest_command(ww, plan, args)
    options = dict(cmd.attach)
    options["once"] = "--once" in own  # pipework's one-shot behaviour: not wired again after a restart
    host_if = options.pop("host_if")
    result = ww.attach(cmd.guest, host_if, dry_run=args.dry_run, **options)
    return print_attach(ww, result, args)


def wait_for_interface(ifname: str, timeout: float) -> int:
    """pipework --wait, run inside a container: block until the interface has carrier."""
    deadline = time.monotonic() + timeout if timeout > 0 else None
    while True:
        try:
            with open(f"/sys/class/net/{ifname}/carrier", encoding="ascii") as f:
                if f.read().strip() == "1":
                    return 0
        except OSError:
            pass  # not there yet (or down: reading carrier of a down link fails)
        if deadline is not None and time.monotonic() > deadline:
            raise WireworkError(f"interface {ifname} did not come up within {timeout:g} s; "
                                f"run 'wirework pipework ...' on the host for this container")
        time.sleep(0.1)

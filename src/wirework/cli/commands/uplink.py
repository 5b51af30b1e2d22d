"""uplink: move a NIC's addresses and routes onto a bridge, and put them back unless confirmed.

    wirework uplink br0 eth0 [--ovs] [--confirm-within 30s] [--check IP] [--dry-run]
    wirework uplink --confirm br0        keep it (like pressing Enter in `netplan try`)
    wirework uplink --undo br0 eth0      put everything back
    wirework uplink --list

The revert does not depend on this terminal: right after the change a detached watchdog
(`wirework uplink --watchdog br0`, its own session) watches the record in the store and
reverts unless it is confirmed in time, or as soon as the check address stops answering.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
from typing import Any

from wirework.cli.app import add_common, add_dry_run, add_json, session
from wirework.cli.render import dumps, show_plan, table
from wirework.errors import InvalidInput

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "": 1.0}


def register(sub: Any) -> None:
    p = sub.add_parser("uplink", help="move a NIC's addresses and routes onto a bridge, safely (reverts by itself)")
    p.add_argument("bridge", nargs="?", help="Linux bridge or OVS bridge (created when missing)")
    p.add_argument("nic", nargs="?", help="the NIC whose addresses and routes move")
    p.add_argument("--ovs", action="store_true", help="make BRIDGE an Open vSwitch bridge")
    p.add_argument("--confirm-within", default="30s", type=duration,
                   help="revert unless confirmed within this time (default 30s; 0: no confirmation)")
    p.add_argument("--check", help="address to ping afterwards (default: the default gateway)")
    add_dry_run(p)
    add_json(p)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--confirm", action="store_true", help="keep the pending uplink of BRIDGE")
    mode.add_argument("--undo", action="store_true", help="put back what the uplink of BRIDGE changed")
    mode.add_argument("--list", action="store_true", help="list uplinks and their state")
    mode.add_argument("--watchdog", action="store_true", help=argparse.SUPPRESS)
    add_common(p)
    p.set_defaults(func=cmd_uplink)


def duration(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30s, 2m or 500ms")
    return float(match.group(1)) * _UNITS[match.group(2)]


def cmd_uplink(args: argparse.Namespace) -> int:
    if args.list:
        return _list(args)
    if not args.bridge:
        raise InvalidInput(what="bridge", value="", why="name the bridge: wirework uplink BRIDGE NIC")
    ww = session(args)
    if args.watchdog:
        print(f"uplink watchdog of {args.bridge}: {ww.uplink_watch(args.bridge)}", flush=True)
        return 0
    if args.confirm or args.undo:
        return _confirm_or_undo(ww, args)
    if not args.nic:
        raise InvalidInput(what="NIC", value="", why="name the NIC: wirework uplink BRIDGE NIC")
    return _apply(ww, args)


def _confirm_or_undo(ww: Any, args: argparse.Namespace) -> int:
    verb = "confirm" if args.confirm else "undo"
    pending = {r["bridge"]: r for r in ww.uplinks()}.get(args.bridge)
    if args.dry_run:
        would = (f"{verb} the uplink of {args.bridge} ({pending['nic']}, {pending['state']})" if pending
                 else f"nothing: there is no uplink of {args.bridge}")
        print(dumps({"dry_run": True, "would": would}) if args.json else f"would {would}")
        return 0
    if args.confirm:
        record = ww.uplink_confirm(args.bridge)
        print(dumps({"bridge": args.bridge, "state": record.get("state")}) if args.json
              else f"uplink of {args.bridge} confirmed; it stays")
        return 0
    done = ww.uplink_undo(args.bridge, args.nic)
    if args.json:
        print(dumps({"bridge": args.bridge, "undone": done}))
    else:
        print(f"uplink of {args.bridge} undone" if done
              else f"no uplink of {args.bridge} to undo (undone already?); '{_cli(args, 'uplink --list')}' lists them")
    return 0


def _cli(args: argparse.Namespace, words: str) -> str:
    return f"wirework {words}{_common_text(args)}"


def _apply(ww: Any, args: argparse.Namespace) -> int:
    if args.dry_run:
        out = ww.uplink(args.bridge, args.nic, ovs=args.ovs or None, check=args.check, dry_run=True)
        return show_plan(args, out.plan, ww.commands(out.plan))
    # A dropped SSH session must not stop us between the change and the watchdog's start.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    out = ww.uplink(args.bridge, args.nic, ovs=args.ovs or None, check=args.check,
                    confirm_within=args.confirm_within, on_applied=lambda rec: _start_watchdog(args, rec))
    if args.json:
        print(dumps({"plan": out.plan.to_dict(), "record": out.record, "check": out.check, "reachable": out.reachable,
                     "confirm": _cli(args, f"uplink --confirm {args.bridge}")}))
        return 0
    if not out.plan.steps:
        print(f"{args.nic} already is uplinked to {args.bridge}")
        return 0
    checked = f"; {out.check} answers" if out.reachable else "; connectivity not checked (no gateway, no --check)"
    print(f"moved {args.nic}'s addresses and routes onto {args.bridge}{checked}")
    if out.record and out.record.get("state") == "pending":
        print(f"confirm within {args.confirm_within:g} s with '{_cli(args, f'uplink --confirm {args.bridge}')}', "
              f"or everything is put back")
    return 0


def _start_watchdog(args: argparse.Namespace, record: dict[str, Any]) -> None:
    if record.get("state") != "pending":
        return
    from wirework.api.env import spawn_detached, state_dir

    directory = state_dir(args.state_dir)
    argv = [sys.executable, "-m", "wirework.cli.main", "uplink", "--watchdog", args.bridge, "--state-dir", directory]
    if args.netns:
        argv += ["--netns", args.netns]
    env = {k: v for k, v in os.environ.items() if k != "WIREWORK_FAIL_AT"}
    env["WIREWORK_NO_SERVICE"] = "1"
    log = os.path.join(directory, f"uplink-{args.netns or 'host'}-{args.bridge}.log")
    spawn_detached(argv, env=env, log=log)


def _common_text(args: argparse.Namespace) -> str:
    return (f" --netns {args.netns}" if args.netns else "") + (f" --state-dir {args.state_dir}" if args.state_dir else "")


def _list(args: argparse.Namespace) -> int:
    rows = session(args).uplinks()
    if args.json:
        print(dumps(rows))
        return 0
    print(table([[r["bridge"], r["nic"], r["kind"], r.get("check") or "-", r["state"]] for r in rows],
                ["BRIDGE", "NIC", "TYPE", "CHECK", "STATE"]))
    return 0

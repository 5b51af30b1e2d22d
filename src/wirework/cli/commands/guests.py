"""run, ps, rm (guests wirework starts itself), up (re-apply everything), check (reachability)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from wirework.cli.app import add_common, add_dry_run, add_json, session
from wirework.cli.render import dumps, table


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="start a command in a namespace: --net bridge|host|none|container:GUEST|NETWORK")
    p.add_argument("--net", "--network", default="bridge", dest="net",
                   help="bridge (the default network wirework0), host, none, container:GUEST or a network's name")
    p.add_argument("--name", help="the guest's (and its namespace's) name")
    p.add_argument("--ip", help="a static address on the network")
    p.add_argument("-p", "--publish", action="append", default=[], help="[HOSTIP:]HOSTPORT:PORT[/tcp|udp]")
    p.add_argument("-d", "--detach", action="store_true", help="run in the background (wirework rm NAME stops it)")
    p.add_argument("--no-sysctl", action="store_true", help="refuse instead of enabling ip_forward")
    p.add_argument("--no-default-route", dest="default_route", action="store_const", const=False, default=None,
                   help="no default route via the network (default: one, as the guest's first network)")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND", help="-- COMMAND [ARGS...]")
    add_dry_run(p, plan=False)
    add_json(p)
    add_common(p)
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("ps", help="guests started by wirework run, with their network mode")
    add_json(p)
    add_common(p)
    p.set_defaults(func=cmd_ps)
    p = sub.add_parser("rm", help="stop a guest started by wirework run and remove its namespace")
    p.add_argument("name")
    add_dry_run(p, plan=False)
    add_json(p)
    add_common(p)
    p.set_defaults(func=cmd_rm_guest)
    p = sub.add_parser("up", help="re-apply every network, connection and published port (after reboot or flush)")
    p.add_argument("--no-sysctl", action="store_true", help="refuse instead of enabling ip_forward")
    add_dry_run(p, plan=False)
    add_json(p)
    add_common(p)
    p.set_defaults(func=cmd_up)
    p = sub.add_parser("check", help="reachability matrix: who reaches whom, on which ports")
    p.add_argument("--lan", help="a namespace acting as a LAN neighbour of the host")
    p.add_argument("--lan-addr", help="the host's address as the LAN neighbour sees it")
    p.add_argument("--no-probe", action="store_true", help="only what the rules say, send no packet")
    add_json(p)
    add_common(p)
    p.set_defaults(func=cmd_check)


def cmd_run(args: argparse.Namespace) -> int:
    from wirework.api.env import state_dir

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    options = {"name": args.name, "ip": args.ip, "publish": args.publish, "detach": args.detach,
               "no_sysctl": args.no_sysctl, "default_route": args.default_route}
    ww = session(args)
    if args.net == "bridge" and not args.json:
        # Docker's word for its default network; wirework's default network is wirework0.
        print("note: --net bridge: the guest joins wirework's default network wirework0", file=sys.stderr)
    if args.dry_run:
        steps = ww.plan_run(args.net, command, **options)
        print(dumps({"dry_run": True, "steps": steps}) if args.json else "\n".join(f"would {s}" for s in steps))
        return 0
    result = ww.run_guest(args.net, command, capture=args.json, log_dir=state_dir(args.state_dir), **options)
    if args.json:
        print(dumps(result.to_dict()))
    elif args.detach:
        print(f"{result.name} (pid {result.pid})")
    return int(result.exit_code)


def cmd_ps(args: argparse.Namespace) -> int:
    rows = sorted(session(args).guests(), key=lambda r: r["name"])
    if args.json:
        print(dumps(rows))
    else:
        print(table([[r["name"], r["mode"], r["state"], str(r["pid"]), r["command"]] for r in rows],
                    ["NAME", "MODE", "STATE", "PID", "COMMAND"]))
    return 0


def cmd_rm_guest(args: argparse.Namespace) -> int:
    ww = session(args)
    if args.dry_run:
        rec = ww.run_record(args.name)
        what = f"stop {rec.name} (pid {rec.pid}), disconnect it and remove its namespace"
        print(dumps({"dry_run": True, "guest": rec.name, "steps": [what]}) if args.json else f"would {what}")
        return 0
    rec = ww.remove_guest(args.name)
    print(dumps({"removed": {"name": rec.name, "mode": rec.mode}}) if args.json else
          f"removed guest {rec.name} ({rec.mode})")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    lines = session(args).up(no_sysctl=args.no_sysctl, dry_run=args.dry_run)
    if args.json:
        print(dumps({"dry_run": args.dry_run, "done": lines}))
        return 0
    for line in lines:
        print(line)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from wirework.diagnostics.check import render_matrix

    result = session(args).check(lan=args.lan, lan_addr=args.lan_addr, probe=not args.no_probe)
    print(dumps(result.to_dict()) if args.json else render_matrix(result))
    return 0 if result.consistent else 1

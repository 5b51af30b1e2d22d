"""tunnel add/rm/ls: Open vSwitch GRE/VXLAN/Geneve ports to peers (S10).

    wirework tunnel add obr0 --type gre --remote 192.168.115.6 [--key N] [--dry-run]
    wirework tunnel rm obr0 192.168.115.6        (the remote address or the port name)
    wirework tunnel ls
"""

from __future__ import annotations

import argparse
from typing import Any

from wirework.cli.app import add_common, add_dry_run, add_json, session
from wirework.cli.render import dumps, show_plan, table
from wirework.model.tunnel import TUNNEL_TYPES


def register(sub: Any) -> None:
    p = sub.add_parser("tunnel", help="Open vSwitch tunnels (GRE, VXLAN, Geneve) between hosts")
    add_common(p)
    tsub = p.add_subparsers(dest="tunnel_command", metavar="ACTION", required=True)

    a = tsub.add_parser("add", help="add a tunnel port to a peer (builds the userspace underlay, lowers MTUs)")
    a.add_argument("bridge", help="the OVS bridge to tunnel (created when missing)")
    a.add_argument("--type", dest="type_", choices=TUNNEL_TYPES, default="gre")
    a.add_argument("--remote", required=True, help="the peer host's underlay address")
    a.add_argument("--key", type=int, help="GRE key / VXLAN VNI")
    a.add_argument("--name", help="port name (default: type + the peer's address in hex)")
    a.add_argument("--underlay", help="OVS bridge for the underlay on the userspace datapath (default ul-NIC)")
    _plan_options(a)
    a.set_defaults(func=cmd_add)

    r = tsub.add_parser("rm", help="remove a tunnel (the underlay stays; 'wirework uplink --undo' removes it)")
    r.add_argument("bridge")
    r.add_argument("peer", help="the remote address or the port name")
    _plan_options(r)
    r.set_defaults(func=cmd_rm)

    ls = tsub.add_parser("ls", help="list tunnels made by wirework, with what OVS says about them")
    add_json(ls)
    add_common(ls)
    ls.set_defaults(func=cmd_ls)


def _plan_options(p: argparse.ArgumentParser) -> None:
    add_dry_run(p)
    add_json(p)
    add_common(p)


def cmd_add(args: argparse.Namespace) -> int:
    ww = session(args)
    plan = ww.tunnel_add(args.bridge, args.remote, type_=args.type_, key=args.key, name=args.name,
                         underlay_bridge=args.underlay, dry_run=args.dry_run)
    if args.dry_run:
        return show_plan(args, plan, ww.commands(plan))
    port = plan.steps[-1].port if plan.steps else "?"
    if args.json:
        print(dumps({"port": port, "bridge": args.bridge, "type": args.type_, "remote": args.remote,
                     "changed": bool(plan.steps), "notes": list(plan.notes)}))
        return 0
    print(f"tunnel {port}: {args.type_} from {args.bridge} to {args.remote}")
    for note in plan.notes:
        print(f"note: {note}")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    ww = session(args)
    plan = ww.tunnel_rm(args.bridge, args.peer, dry_run=args.dry_run)
    if args.dry_run:
        return show_plan(args, plan, ww.commands(plan))
    port = plan.owner.split(":")[-1]
    print(dumps({"removed": port, "bridge": args.bridge}) if args.json else f"removed tunnel {port}")
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    rows = session(args).tunnel_ls()
    if args.json:
        print(dumps(rows))
        return 0
    print(table([[r["bridge"], r["port"], r["type"], r["remote"], "-" if r.get("key") is None else str(r["key"]),
                  str(r.get("mtu") or "-"), r.get("error") or "ok"] for r in rows],
                ["BRIDGE", "PORT", "TYPE", "REMOTE", "KEY", "MTU", "STATE"]))
    return 0

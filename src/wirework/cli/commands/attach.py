"""attach, detach, ls, inspect, gc: wiring guests one interface at a time."""

from __future__ import annotations

import argparse
from typing import Any

from wirework.cli.app import add_common, add_dry_run, add_json, session
from wirework.cli.render import dumps, show_plan, table
from wirework.errors import InvalidInput


def register(sub: Any) -> None:
    p = sub.add_parser("attach", help="wire a guest to a bridge, an OVS bridge or a NIC (pipework's job)")
    p.add_argument("guest", help="container name/id, PID, netns name, or netns path (docker:, pid:, netns:, path:)")
    p.add_argument("host_if", nargs="?", default="", metavar="HOST_IF", help="bridge, OVS bridge or NIC on the host")
    p.add_argument("--bridge", help="a Linux bridge (created when missing)")
    p.add_argument("--ovs-bridge", help="an Open vSwitch bridge (created when missing)")
    p.add_argument("--host-if", dest="host_if_opt", help="an existing host interface (never created)")
    p.add_argument("--ifname", "-i", default="eth1", help="interface name inside the guest (default eth1)")
    p.add_argument("--host-ifname", "-l", help="name of the host end of the veth")
    p.add_argument("--ip", help="ADDRESS/PREFIX for the guest interface")
    p.add_argument("--gateway", help="default gateway for the guest")
    p.add_argument("--dhcp", action="store_true", help="get the address by DHCP (udhcpc or dhclient)")
    p.add_argument("--mac", help="MAC address, or U:<text> for one derived from text")
    p.add_argument("--vlan", type=str, help="VLAN id (OVS tag, or VLAN-filtering Linux bridge)")
    p.add_argument("--mtu", type=str, help="MTU of the new interfaces")
    p.add_argument("--once", action="store_true",
                   help="pipework's one-shot behaviour: forget it when the container stops "
                        "(default: a Docker container is wired again each time it starts)")
    add_plan_options(p)
    p.set_defaults(func=cmd_attach)

    p = sub.add_parser("detach", help="undo what attach did for a guest (all its interfaces, or -i one)")
    p.add_argument("guest")
    p.add_argument("--ifname", "-i", help="only this interface of the guest")
    add_plan_options(p)
    p.set_defaults(func=cmd_detach)

    p = sub.add_parser("ls", help="list attachments made by wirework, sorted by guest")
    add_json(p)
    add_common(p)
    p.set_defaults(func=cmd_ls)

    p = sub.add_parser("inspect", help="a guest's interfaces, addresses, routes, bridges and who made them")
    p.add_argument("guest")
    add_json(p)
    add_common(p)
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("gc", help="clean up after guests that are gone (host ends, OVS ports, ports, leases, records)")
    add_dry_run(p, plan=False)
    add_json(p)
    add_common(p)
    p.set_defaults(func=cmd_gc)


def add_plan_options(p: argparse.ArgumentParser) -> None:
    add_dry_run(p)
    add_json(p)
    add_common(p)


def host_if_and_mode(args: argparse.Namespace) -> tuple[str, str]:
    chosen = [(v, m) for v, m in ((args.host_if, "auto"), (args.bridge, "linux"), (args.ovs_bridge, "ovs"),
                                  (args.host_if_opt, "never")) if v]
    if len(chosen) != 1:
        raise InvalidInput(what="host interface", value=" ".join(v for v, _ in chosen),
                           why="name exactly one: HOST_IF, --bridge, --ovs-bridge or --host-if")
    return chosen[0]


def cmd_attach(args: argparse.Namespace) -> int:
    host_if, mode = host_if_and_mode(args)
    ww = session(args)
    result = ww.attach(
        args.guest, host_if, dry_run=args.dry_run, ip=args.ip, gateway=args.gateway, ifname=args.ifname,
        host_ifname=args.host_ifname, mac=args.mac, vlan=args.vlan, mtu=args.mtu, dhcp=args.dhcp, create=mode,
        once=args.once,
    )
    return print_attach(ww, result, args)


def print_attach(ww: Any, result: Any, args: argparse.Namespace) -> int:
    if args.dry_run:
        return show_plan(args, result.plan, ww.commands(result.plan))
    att = result.attachment
    if args.json:
        print(dumps({"changed": result.changed, "attachment": att.summary()}))
        return 0
    what = "attached" if result.changed else "already attached"
    addr = att.cidr or "no address"
    gw = f" via {att.gateway}" if att.gateway else ""
    print(f"{what}: {att.guest.name} {att.cont_ifname} {addr}{gw} -> {att.host_if} ({att.host_kind})")
    return 0


def cmd_detach(args: argparse.Namespace) -> int:
    ww = session(args)
    if args.dry_run:
        return show_plan(args, ww.plan_detach(args.guest, args.ifname), ww.commands(ww.plan_detach(args.guest, args.ifname)))
    done = ww.detach(args.guest, args.ifname)
    if args.json:
        print(dumps({"detached": [a.summary() for a in done]}))
        return 0
    if not done:
        print(f"nothing to detach for {args.guest}" + (f" -i {args.ifname}" if args.ifname else ""))
    for att in done:
        print(f"detached: {att.guest.name} {att.cont_ifname} from {att.host_if}")
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    statuses = sorted(session(args).ls(), key=lambda s: (s.attachment.guest.name, s.attachment.cont_ifname))
    if args.json:
        print(dumps([{"state": s.state, "guest_ifname": s.guest_ifname, **s.attachment.summary()} for s in statuses]))
        return 0
    rows = [[s.attachment.guest.name, _kind(s.attachment), s.guest_ifname or "-", s.attachment.cidr or "-",
             s.attachment.host_if, s.attachment.host_kind, s.attachment.host_ifname or "-", s.state,
             _made_by(s.attachment)] for s in statuses]
    print(table(rows, ["GUEST", "KIND", "IFNAME", "ADDRESS", "HOST IF", "TYPE", "HOST END", "STATE", "MADE BY"]))
    return 0


def _kind(att: Any) -> str:
    return "docker" if att.guest.kind == "docker-ep" else str(att.guest.kind)


def _made_by(att: Any) -> str:
    if att.made_by == "docker":
        return "docker"
    return "wirework --once" if att.spec.once else "wirework"


def cmd_inspect(args: argparse.Namespace) -> int:
    report = session(args).inspect(args.guest)
    if args.json:
        print(dumps({"guest": {**report.guest.to_dict(), "mode": report.mode}, "interfaces": report.links,
                     "routes": report.routes, "attachments": [a.summary() for a in report.attachments],
                     "networks": report.networks}))
        return 0
    g = report.guest
    print(f"guest {g.name} ({g.kind}, network mode {report.mode}), netns {g.netns_path}")
    for link in report.links:
        att = next((a for a in report.attachments if (a.made_by == "docker" and a.mac == link["mac"])
                    or (a.made_by != "docker" and a.cont_ifname == link["name"])), None)
        who = "made by Docker (wirework network driver)" if att is not None and att.made_by == "docker" \
            else "made by wirework" + (" --once" if att is not None and att.spec.once else "")
        via = f"  -> {att.host_if} ({att.host_kind}, host end {att.host_ifname or '-'}), {who}" if att else ""
        state = "UP" if link["up"] else "DOWN"
        print(f"  {link['name']:<10} {state:<4} {link['mac']} mtu {link['mtu']} {' '.join(link['addresses'])}{via}")
    for r in report.routes:
        gw = f" via {r['gateway']}" if r["gateway"] else ""
        print(f"  route {r['dst']}{gw} dev {r['dev']}")
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    ww = session(args)
    report = ww.gc(dry_run=args.dry_run)
    if args.json:
        print(dumps({"dry_run": args.dry_run, **report.to_dict()}))
        return 0
    verb = "would clean up" if args.dry_run else "cleaned up"
    for line in report.recovered:
        print(line)
    for item in report.cleaned:
        print(f"{verb}: {item}")
    if not report.cleaned and not report.recovered:
        print("nothing to clean up")
    return 0

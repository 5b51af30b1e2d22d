"""network create|ls|inspect|rm|link|unlink, connect, disconnect, port (run/ps/rm/up/check: guests.py)."""

from __future__ import annotations

import argparse
from typing import Any

from wirework.cli.app import add_common, add_dry_run, add_json, session
from wirework.cli.render import dumps, show_plan, table
from wirework.errors import NotFound


def register(sub: Any) -> None:
    net = sub.add_parser("network", help="Docker-style networks: bridges with subnets, NAT and isolation")
    add_common(net)
    nsub = net.add_subparsers(dest="network_command", metavar="SUBCOMMAND", required=True)
    _register_network(nsub)
    _register_connect(sub)
    from wirework.cli.commands import guests

    guests.register(sub)


def _register_network(nsub: Any) -> None:
    p = nsub.add_parser("create", help="create a network (bridge, subnet, gateway, NAT, isolation), or with --driver "
                                       "a cluster network across hosts")
    p.add_argument("name")
    p.add_argument("--driver", choices=("bridge", "vxlan", "host-gw", "ovs-vxlan", "ovs-gre"),
                   help="bridge (default): this host only; the others: one network across every host of the "
                        "cluster (needs --store)")
    p.add_argument("--host-subnet-len", default=24, help="cluster networks: prefix length of each host's subnet "
                                                         "(default 24)")
    p.add_argument("--vni", help="cluster networks: VXLAN network identifier (default: the lowest free), "
                                 "GRE key for ovs-gre (default: none)")
    p.add_argument("--subnet", help="CIDR; default: the first free range of the address pools")
    p.add_argument("--gateway", help="the bridge's address (default: the first host of the subnet)")
    p.add_argument("--ip-range", help="where dynamic addresses come from (static --ip stay outside it)")
    p.add_argument("--bridge", help="bridge interface name (default ww-NAME)")
    p.add_argument("--internal", action="store_true", help="no traffic beyond the network (no NAT, no ports)")
    p.add_argument("--no-masquerade", action="store_true", help="route guests' addresses unchanged")
    p.add_argument("--no-icc", action="store_true", help="guests of this network cannot reach each other")
    p.add_argument("--mtu", help="MTU of the bridge and guest interfaces")
    p.add_argument("--force", action="store_true", help="accept a subnet that overlaps a route or address")
    p.add_argument("--no-sysctl", action="store_true", help="refuse instead of enabling ip_forward")
    p.add_argument("--pools", help="address pools BASE/LEN:SIZE,... (env WIREWORK_ADDRESS_POOLS)")
    _plan_options(p)
    p.set_defaults(func=cmd_create)
    p = nsub.add_parser("ls", help="list networks")
    add_json(p)
    add_common(p)
    p.set_defaults(func=cmd_ls)
    p = nsub.add_parser("inspect", help="a network with its guests, addresses, ports and links")
    p.add_argument("name")
    add_json(p)
    add_common(p)
    p.set_defaults(func=cmd_inspect)
    p = nsub.add_parser("rm", help="remove a network (refused while guests are attached, unless --force)")
    p.add_argument("name")
    p.add_argument("--force", action="store_true", help="disconnect its guests first")
    _plan_options(p)
    p.set_defaults(func=cmd_rm)
    for verb in ("link", "unlink"):
        p = nsub.add_parser(verb, help=f"{'allow' if verb == 'link' else 'stop'} traffic between two networks")
        p.add_argument("a", metavar="NETWORK")
        p.add_argument("b", metavar="OTHER")
        _plan_options(p)
        p.set_defaults(func=cmd_link, unlink=verb == "unlink")


def _register_connect(sub: Any) -> None:
    p = sub.add_parser("connect", help="connect a guest to a network")
    p.add_argument("network")
    p.add_argument("guest", help="container, PID, netns name or path (docker:, pid:, netns:, path:)")
    p.add_argument("--ip", help="a static address (kept outside the network's --ip-range)")
    p.add_argument("--alias", action="append", default=[], help="another name of the guest on this network")
    _default_route_options(p)
    p.add_argument("-p", "--publish", action="append", default=[], help="[HOSTIP:]HOSTPORT[-END]:PORT[-END][/tcp|udp]")
    p.add_argument("--ifname", "-i", help="interface name inside the guest (default: the first free ethN)")
    p.add_argument("--no-sysctl", action="store_true", help="refuse instead of enabling ip_forward")
    _plan_options(p)
    p.set_defaults(func=cmd_connect)
    p = sub.add_parser("disconnect", help="disconnect a guest from a network")
    p.add_argument("network")
    p.add_argument("guest")
    _plan_options(p)
    p.set_defaults(func=cmd_disconnect)
    p = sub.add_parser("port", help="list a guest's published ports (or the mapping of one PRIVATE_PORT[/PROTO])")
    p.add_argument("guest")
    p.add_argument("private_port", nargs="?", metavar="PRIVATE_PORT[/PROTO]", help="e.g. 80 or 53/udp")
    add_json(p)
    add_common(p)
    p.set_defaults(func=cmd_port)


def _default_route_options(p: argparse.ArgumentParser) -> None:
    """Docker's and podman's rule: a guest's first network gives its default route."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--default-route", dest="default_route", action="store_const", const=True, default=None,
                       help="route the guest's default traffic via this network, over any it has")
    group.add_argument("--no-default-route", dest="default_route", action="store_const", const=False,
                       help="no default route via this network (default: one when the guest has none yet)")


def _plan_options(p: argparse.ArgumentParser) -> None:
    add_dry_run(p)
    add_json(p)
    add_common(p)


def cmd_create(args: argparse.Namespace) -> int:
    from wirework.cli.commands import cluster

    if cluster.is_cluster_create(args):
        return cluster.cmd_create(args)
    ww = session(args)
    res = ww.network_create(args.name, subnet=args.subnet, gateway=args.gateway, ip_range=args.ip_range,
                            bridge=args.bridge, internal=args.internal, masquerade=not args.no_masquerade,
                            icc=not args.no_icc, mtu=args.mtu, force=args.force, dry_run=args.dry_run,
                            no_sysctl=args.no_sysctl, pools=args.pools)
    n = res.network
    if args.json:
        data = {"network": n.to_dict(), "changed": res.changed, "existed": res.existed, "notes": list(res.notes),
                "skipped": [{"subnet": s, "why": w} for s, w in res.skipped]}
        if args.dry_run:
            return show_plan(args, res.plan, ww.commands(res.plan), data)
        print(dumps({**data, "plan": res.plan.to_dict()}))
        return 0
    for subnet, why in res.skipped:
        print(f"skipped {subnet}: {why}")
    what = f"{n.name} ({n.subnet}, gateway {n.gateway}, bridge {n.bridge})"
    if args.dry_run:
        print(f"network {what} already exists; checking it" if res.existed else f"would create network {what}")
        return show_plan(args, res.plan, ww.commands(res.plan))
    for note in res.notes:
        print(f"note: {note}")
    if not res.existed:
        print(f"created network {what}")
    else:
        print(f"network {what} already exists" + ("; put back what was missing" if res.changed else ""))
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    from wirework.cli.commands.cluster import cluster_listing

    ww = session(args)
    rows = ww.network_ls()
    clustered = ww.cluster_configured()
    if args.json:
        print(dumps({"local": rows, "cluster": ww.cluster_networks()} if clustered else rows))
        return 0
    print(table([[r.get("docker_name") or r["name"], r["subnet"], r["gateway"], r["bridge"], str(r["guests"]), r["state"],
                  _opts(r), r.get("made_by", "wirework")] for r in rows],
                ["NAME", "SUBNET", "GATEWAY", "BRIDGE", "GUESTS", "STATE", "OPTIONS", "MADE BY"]))
    if clustered:
        print("\ncluster networks:\n" + cluster_listing(ww, False))
    return 0


def _opts(r: dict[str, Any]) -> str:
    flags = (("internal", r["internal"]), ("no-masquerade", not r["masquerade"]), ("no-icc", not r["icc"]),
             (f"cluster:{r.get('driver')}", bool(r.get("driver"))))
    return ",".join(o for o, on in flags if on) or "-"


def cmd_inspect(args: argparse.Namespace) -> int:
    from wirework.cli.commands.cluster import print_inspect

    ww = session(args)
    if ww.cluster_configured() and ww.cluster_defines(args.name):
        try:
            here = ww.network_inspect(args.name)
        except NotFound:
            here = None
        cluster_info = ww.cluster_network_inspect(args.name)
        if args.json:
            print(dumps({"cluster": cluster_info, "here": here}))
        else:
            print_inspect(cluster_info, here)
        return 0
    info = ww.network_inspect(args.name)
    if args.json:
        print(dumps(info))
        return 0
    flags = _opts(info)
    if info.get("made_by") == "docker":
        print(f"made by Docker: {info.get('docker_name') or '(name not known yet)'}, id {info.get('docker_id', '')[:12]}")
    print(f"network {info['name']}: subnet {info['subnet']}, gateway {info['gateway']}, bridge {info['bridge']}"
          + (f", ip-range {info['ip_range']}" if info["ip_range"] else "") + (f" ({flags})" if flags != "-" else ""))
    print(f"linked to: {', '.join(info['links']) or '-'}")
    print(table([[g["guest"], g["mode"], g["ifname"] or "-", g["ip"], "yes" if g["default_route"] else "no",
                  ", ".join(g["ports"]) or "-", g.get("made_by", "wirework")] for g in info["guests"]],
                ["GUEST", "MODE", "IFNAME", "ADDRESS", "DEFAULT-ROUTE", "PORTS", "MADE BY"]))
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    from wirework.cli.commands import cluster

    ww = session(args)
    if ww.cluster_configured() and ww.cluster_defines(args.name):
        return cluster.cmd_rm(args)
    if args.dry_run:
        plan = ww.plan_network_rm(args.name, force=args.force)
        return show_plan(args, plan, ww.commands(plan))
    net = ww.network_rm(args.name, force=args.force)
    print(dumps({"removed": net.to_dict()}) if args.json else f"removed network {net.name}")
    return 0


def cmd_link(args: argparse.Namespace) -> int:
    ww = session(args)
    plan = ww.network_link(args.a, args.b, unlink=args.unlink, dry_run=args.dry_run)
    if args.dry_run:
        return show_plan(args, plan, ww.commands(plan))
    state = "isolated" if args.unlink else "linked"
    if args.json:
        print(dumps({"networks": [args.a, args.b], "state": state, "changed": bool(plan.steps)}))
    elif not plan.steps:
        print(f"networks {args.a} and {args.b} are already {state}")
    else:
        print(f"{'unlinked' if args.unlink else 'linked'} networks {args.a} and {args.b}")
    return 0


def cmd_connect(args: argparse.Namespace) -> int:
    ww = session(args)
    try:
        res = ww.connect(args.network, args.guest, ip=args.ip, aliases=args.alias, default_route=args.default_route,
                         publish=args.publish, ifname=args.ifname, no_sysctl=args.no_sysctl, dry_run=args.dry_run)
    except NotFound as exc:
        if exc.fields.get("what") == "network" and ww.cluster_configured() and ww.cluster_defines(args.network):
            raise NotFound(what="network", name=args.network, fix=(
                "it is a cluster network this host has not joined yet: run 'wirework agent' on this host "
                "(or wait until it has joined)")) from exc
        raise
    ep = res.endpoint
    if args.dry_run:
        return show_plan(args, res.plan, ww.commands(res.plan), {"endpoint": ep.to_dict()})
    if args.json:
        print(dumps({"endpoint": ep.to_dict(), "changed": res.changed, "plan": res.plan.to_dict()}))
        return 0
    for note in res.plan.notes:
        print(f"note: {note}")
    state = "connected" if res.changed else "already connected:"
    print(f"{state} {ep.guest.name} to {ep.network} as {ep.ip} on {ep.ifname}"
          + (" (default route)" if ep.default_route else ""))
    return 0


def cmd_disconnect(args: argparse.Namespace) -> int:
    ww = session(args)
    if args.dry_run:
        plan = ww.plan_disconnect(args.network, args.guest)
        return show_plan(args, plan, ww.commands(plan))
    ep = ww.disconnect(args.network, args.guest)
    if args.json:
        print(dumps({"disconnected": ep.to_dict() if ep else None}))
    elif ep:
        print(f"disconnected {ep.guest.name} from {ep.network}")
    else:
        print(f"{args.guest} is not connected to {args.network}")
    return 0


def cmd_port(args: argparse.Namespace) -> int:
    maps = session(args).ports(args.guest)
    if args.private_port:
        port, _, proto = args.private_port.partition("/")
        maps = [m for m in maps if str(m.guest_port) == port and m.proto == (proto or "tcp")]
        if not maps:
            raise NotFound(f"no public port {port}/{proto or 'tcp'} is published for {args.guest}; "
                           f"see 'wirework port {args.guest}'")
    if args.json:
        print(dumps([m.__dict__ for m in maps]))
        return 0
    for m in maps:
        # Docker's format; with PRIVATE_PORT, only the host side (as `docker port c 80` prints).
        host = f"{m.host_ip or '0.0.0.0'}:{m.host_port}"
        print(host if args.private_port else f"{m.guest_port}/{m.proto} -> {host}")
    return 0

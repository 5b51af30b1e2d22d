"""network create|ls|inspect|rm|link|unlink, connect, disconnect, run, ps, rm, port, up, check."""

from __future__ import annotations

import argparse
from typing import Any

from wirework.cli.app import add_common, session
from wirework.cli.render import PLAN_FORMATS, dumps, render_plan, table


def register(sub: Any) -> None:
    net = sub.add_parser("network", help="Docker-style networks: bridges with subnets, NAT and isolation")
    nsub = net.add_subparsers(dest="network_command", metavar="SUBCOMMAND", required=True)
    _register_network(nsub)
    _register_connect(sub)
    _register_run(sub)
    p = sub.add_parser("up", help="re-apply every network, connection and published port (after reboot or flush)")
    p.add_argument("--dry-run", action="store_true", help="say what would be done, change nothing")
    p.add_argument("--no-sysctl", action="store_true", help="refuse instead of enabling ip_forward")
    add_common(p)
    p.set_defaults(func=cmd_up)
    p = sub.add_parser("check", help="reachability matrix: who reaches whom, on which ports")
    p.add_argument("--lan", help="a namespace acting as a LAN neighbour of the host")
    p.add_argument("--lan-addr", help="the host's address as the LAN neighbour sees it")
    p.add_argument("--no-probe", action="store_true", help="only what the rules say, send no packet")
    p.add_argument("--json", action="store_true")
    add_common(p)
    p.set_defaults(func=cmd_check)


def _register_network(nsub: Any) -> None:
    p = nsub.add_parser("create", help="create a network (bridge, subnet, gateway, NAT, isolation)")
    p.add_argument("name")
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
    p.add_argument("--json", action="store_true")
    add_common(p)
    p.set_defaults(func=cmd_ls)
    p = nsub.add_parser("inspect", help="a network with its guests, addresses, ports and links")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    add_common(p)
    p.set_defaults(func=cmd_inspect)
    p = nsub.add_parser("rm", help="remove a network (refused while guests are attached, unless --force)")
    p.add_argument("name")
    p.add_argument("--force", action="store_true", help="disconnect its guests first")
    add_common(p)
    p.set_defaults(func=cmd_rm)
    for verb in ("link", "unlink"):
        p = nsub.add_parser(verb, help=f"{'allow' if verb == 'link' else 'stop'} traffic between two networks")
        p.add_argument("a")
        p.add_argument("b")
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
    p.add_argument("--ifname", help="interface name inside the guest (default: the first free ethN)")
    p.add_argument("--no-sysctl", action="store_true", help="refuse instead of enabling ip_forward")
    _plan_options(p)
    p.set_defaults(func=cmd_connect)
    p = sub.add_parser("disconnect", help="disconnect a guest from a network")
    p.add_argument("network")
    p.add_argument("guest")
    add_common(p)
    p.set_defaults(func=cmd_disconnect)
    p = sub.add_parser("port", help="list a guest's published ports")
    p.add_argument("guest")
    p.add_argument("--json", action="store_true")
    add_common(p)
    p.set_defaults(func=cmd_port)


def _register_run(sub: Any) -> None:
    p = sub.add_parser("run", help="start a command in a namespace: --net bridge|host|none|container:GUEST|NETWORK")
    p.add_argument("--net", "--network", default="bridge", dest="net")
    p.add_argument("--name", help="the guest's (and its namespace's) name")
    p.add_argument("--ip", help="a static address on the network")
    p.add_argument("-p", "--publish", action="append", default=[])
    p.add_argument("-d", "--detach", action="store_true", help="run in the background (wirework rm NAME stops it)")
    p.add_argument("--no-sysctl", action="store_true")
    p.add_argument("--no-default-route", dest="default_route", action="store_const", const=False, default=None,
                   help="no default route via the network (default: one, as the guest's first network)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    add_common(p)
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("ps", help="guests started by wirework run, with their network mode")
    p.add_argument("--json", action="store_true")
    add_common(p)
    p.set_defaults(func=cmd_ps)
    p = sub.add_parser("rm", help="stop a guest started by wirework run and remove its namespace")
    p.add_argument("name")
    add_common(p)
    p.set_defaults(func=cmd_rm_guest)


def _default_route_options(p: argparse.ArgumentParser) -> None:
    """Docker's and podman's rule: a guest's first network gives its default route."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--default-route", dest="default_route", action="store_const", const=True, default=None,
                       help="route the guest's default traffic via this network, over any it has")
    group.add_argument("--no-default-route", dest="default_route", action="store_const", const=False,
                       help="no default route via this network (default: one when the guest has none yet)")


def _plan_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    p.add_argument("--format", choices=PLAN_FORMATS, default="text", help="plan format for --dry-run")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_common(p)


def cmd_create(args: argparse.Namespace) -> int:
    ww = session(args)
    res = ww.network_create(args.name, subnet=args.subnet, gateway=args.gateway, ip_range=args.ip_range,
                            bridge=args.bridge, internal=args.internal, masquerade=not args.no_masquerade,
                            icc=not args.no_icc, mtu=args.mtu, force=args.force, dry_run=args.dry_run,
                            no_sysctl=args.no_sysctl, pools=args.pools)
    if args.json:
        print(dumps({"network": res.network.to_dict(), "changed": res.changed, "notes": list(res.notes),
                     "skipped": [{"subnet": s, "why": w} for s, w in res.skipped], "plan": res.plan.to_dict()}))
        return 0
    for subnet, why in res.skipped:
        print(f"skipped {subnet}: {why}")
    if args.dry_run:
        print(f"would create network {res.network.name}: subnet {res.network.subnet}, gateway {res.network.gateway}, "
              f"bridge {res.network.bridge}")
        print(render_plan(res.plan, args.format))
        return 0
    for note in res.notes:
        print(f"note: {note}")
    verb = "created" if res.changed else "already in place:"
    print(f"{verb} network {res.network.name} ({res.network.subnet}, gateway {res.network.gateway}, "
          f"bridge {res.network.bridge})")
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    rows = session(args).network_ls()
    if args.json:
        print(dumps(rows))
        return 0
    print(table([[r.get("docker_name") or r["name"], r["subnet"], r["gateway"], r["bridge"], str(r["guests"]), r["state"],
                  _opts(r), r.get("made_by", "wirework")] for r in rows],
                ["NAME", "SUBNET", "GATEWAY", "BRIDGE", "GUESTS", "STATE", "OPTIONS", "MADE BY"]))
    return 0


def _opts(r: dict[str, Any]) -> str:
    flags = (("internal", r["internal"]), ("no-masquerade", not r["masquerade"]), ("no-icc", not r["icc"]))
    return ",".join(o for o, on in flags if on) or "-"


def cmd_inspect(args: argparse.Namespace) -> int:
    info = session(args).network_inspect(args.name)
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
    net = session(args).network_rm(args.name, force=args.force)
    print(f"removed network {net.name}")
    return 0


def cmd_link(args: argparse.Namespace) -> int:
    plan = session(args).network_link(args.a, args.b, unlink=args.unlink, dry_run=args.dry_run)
    if args.dry_run:
        print(render_plan(plan, args.format))
    elif not plan.steps:
        print(f"networks {args.a} and {args.b} are already {'isolated' if args.unlink else 'linked'}")
    else:
        print(f"{'unlinked' if args.unlink else 'linked'} networks {args.a} and {args.b}")
    return 0


def cmd_connect(args: argparse.Namespace) -> int:
    res = session(args).connect(args.network, args.guest, ip=args.ip, aliases=args.alias, default_route=args.default_route,
                                publish=args.publish, ifname=args.ifname, no_sysctl=args.no_sysctl, dry_run=args.dry_run)
    ep = res.endpoint
    if args.json:
        print(dumps({"endpoint": ep.to_dict(), "changed": res.changed, "plan": res.plan.to_dict()}))
    elif args.dry_run:
        print(render_plan(res.plan, args.format))
    else:
        for note in res.plan.notes:
            print(f"note: {note}")
        state = "connected" if res.changed else "already connected:"
        print(f"{state} {ep.guest.name} to {ep.network} as {ep.ip} on {ep.ifname}"
              + (" (default route)" if ep.default_route else ""))
    return 0


def cmd_disconnect(args: argparse.Namespace) -> int:
    ep = session(args).disconnect(args.network, args.guest)
    print(f"disconnected {ep.guest.name} from {ep.network}" if ep else f"{args.guest} is not connected to {args.network}")
    return 0


def cmd_port(args: argparse.Namespace) -> int:
    maps = session(args).ports(args.guest)
    if args.json:
        print(dumps([m.__dict__ for m in maps]))
    else:
        for m in maps:
            print(f"{m.guest_port}/{m.proto} -> {m.host_ip or '0.0.0.0'}:{m.host_port}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from wirework.api.env import state_dir

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    return int(session(args).run_guest(args.net, command, name=args.name, ip=args.ip, publish=args.publish,
                                       detach=args.detach, no_sysctl=args.no_sysctl, log_dir=state_dir(args.state_dir),
                                       default_route=args.default_route))


def cmd_ps(args: argparse.Namespace) -> int:
    rows = session(args).guests()
    if args.json:
        print(dumps(rows))
    else:
        print(table([[r["name"], r["mode"], r["state"], str(r["pid"]), r["command"]] for r in rows],
                    ["NAME", "MODE", "STATE", "PID", "COMMAND"]))
    return 0


def cmd_rm_guest(args: argparse.Namespace) -> int:
    rec = session(args).remove_guest(args.name)
    print(f"removed guest {rec.name} ({rec.mode})")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    for line in session(args).up(no_sysctl=args.no_sysctl, dry_run=args.dry_run):
        print(line)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from wirework.diagnostics.check import render_matrix

    result = session(args).check(lan=args.lan, lan_addr=args.lan_addr, probe=not args.no_probe)
    print(dumps(result.to_dict()) if args.json else render_matrix(result))
    return 0 if result.consistent else 1

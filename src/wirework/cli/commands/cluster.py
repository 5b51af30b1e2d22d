"""agent, host ls, and the cluster side of network create|ls|inspect|rm (issue 9)."""

from __future__ import annotations

import argparse
import re
import signal
import time
from typing import Any

from wirework.cli.app import add_common, add_dry_run, add_json, session
from wirework.cli.render import dumps, table
from wirework.errors import InvalidInput

CLUSTER_DRIVERS = ("vxlan", "host-gw", "ovs-vxlan", "ovs-gre")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m)?$")


def register(sub: Any) -> None:
    p = sub.add_parser("agent", help="run this host's cluster agent: lease subnets, watch peers, converge")
    p.add_argument("--public-ip", help="this host's address the others reach it at (default: from the default route)")
    p.add_argument("--lease-ttl", default="10s", help="how long the host's claims outlive a dead agent (default 10s)")
    p.add_argument("--host-id", help="this host's id in the cluster (default: the --netns name, else "
                                     "hostname-machine-id)")
    p.add_argument("--network", action="append", default=[], help="join only this cluster network (repeatable)")
    p.add_argument("--leave", action="store_true", help="leave every cluster network now (guests are disconnected), "
                                                        "give the subnets back, and exit")
    add_dry_run(p, plan=False)
    add_json(p)
    add_common(p)
    p.set_defaults(func=cmd_agent)
    host = sub.add_parser("host", help="the hosts of a cluster network")
    add_common(host)
    hsub = host.add_subparsers(dest="host_command", metavar="SUBCOMMAND", required=True)
    p = hsub.add_parser("ls", help="every host of a cluster network: public IP, subnet, lease age, health")
    p.add_argument("network")
    add_json(p)
    add_common(p)
    p.set_defaults(func=cmd_host_ls)


def parse_duration(text: str) -> float:
    match = _DURATION.match(text.strip())
    if match is None:
        raise InvalidInput(what="duration", value=text, why="write it as 10s, 500ms or 1m")
    value = float(match.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}[match.group(2)]
    if value < 1:
        raise InvalidInput(what="lease TTL", value=text, why="etcd counts leases in whole seconds: use 1s or more")
    return value


def _logger(as_json: bool) -> Any:
    def log(text: str) -> None:
        if as_json:  # one JSON object a line
            print(dumps_line({"time": time.time(), "message": text}), flush=True)
        else:
            print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)

    return log


def dumps_line(data: dict[str, Any]) -> str:
    import json

    return json.dumps(data, sort_keys=True)


def cmd_agent(args: argparse.Namespace) -> int:
    ww = session(args)
    _log = _logger(args.json)
    agent = ww.agent(public_ip=args.public_ip, lease_ttl=parse_duration(args.lease_ttl), host_id=args.host_id,
                     networks=args.network, log=_log)
    if args.dry_run:
        view = agent.preview()
        if args.json:
            print(dumps({"dry_run": True, **view}))
        else:
            joins = ", ".join(f"{n['network']} ({n['subnet']})" for n in view["networks"]) or "no cluster network"
            print(f"would run agent {view['host']} ({view['public_ip']}, lease TTL {view['lease_ttl']:g} s): {joins}")
        return 0
    agent.start()
    if args.leave:
        agent.stop(leave=True)
        return 0
    stopping: list[int] = []

    def stop(signum: int, frame: object) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        agent.step(1.0)
    agent.stop()
    _log("agent stopped; this host keeps forwarding, and its claims expire unless it comes back within "
         f"{agent.config.lease_ttl:g} s")
    return 0


def cmd_host_ls(args: argparse.Namespace) -> int:
    rows = session(args).cluster_hosts(args.network)
    if args.json:
        print(dumps(rows))
        return 0
    print(table([[r["host"], r["public_ip"], r["subnet"], _age(r["lease_age"]), r["health"],
                  "" if r["status"] == "ok" else r["status"]] for r in rows],
                ["HOST", "PUBLIC IP", "SUBNET", "LEASE AGE", "HEALTH", "PROBLEMS"]))
    return 0


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


# -- network create|ls|inspect|rm on a cluster network --------------------------------------
def is_cluster_create(args: argparse.Namespace) -> bool:
    return getattr(args, "driver", None) in CLUSTER_DRIVERS


def cmd_create(args: argparse.Namespace) -> int:
    for flag, value in (("--gateway", args.gateway), ("--ip-range", args.ip_range), ("--bridge", args.bridge),
                        ("--pools", args.pools)):
        if value is not None:
            raise InvalidInput(what=flag, value=str(value), why=f"a cluster network ({args.driver}) hands each host "
                               "its own subnet, gateway and bridge; leave it out")
    ww = session(args)
    options = {"driver": args.driver, "subnet": args.subnet, "host_subnet_len": args.host_subnet_len, "vni": args.vni,
               "mtu": args.mtu}
    if args.dry_run:
        net, exists = ww.plan_cluster_network_create(args.name, **options)
        if args.json:
            print(dumps({"dry_run": True, "network": net.to_dict(), "exists": exists}))
        else:
            print(f"cluster network {net.name} exists as asked; nothing to do" if exists else
                  f"would define cluster network {net.name} ({net.driver}, {net.subnet}, a /{net.host_subnet_len} per "
                  f"host) in the shared store; hosts build it when their agents see it")
        return 0
    defined = ww.cluster_network_create(args.name, **options)
    net = defined.network
    if args.json:
        print(dumps({"network": net.to_dict(), "changed": defined.changed}))
        return 0
    vni = f", VNI {net.vni}" if net.vni is not None and net.driver != "ovs-gre" else \
        f", GRE key {net.vni}" if net.vni is not None else ""
    verb = "created" if defined.changed else "already defined:"
    print(f"{verb} cluster network {net.name} ({net.driver}, {net.subnet}, a /{net.host_subnet_len} per host: "
          f"room for {net.capacity} hosts{vni}); hosts join it through 'wirework agent'")
    return 0


def cluster_listing(ww: Any, as_json: bool) -> str:
    rows = ww.cluster_networks()
    if as_json:
        return dumps(rows)
    return table([[r["name"], r["driver"], r["subnet"], f"/{r['host_subnet_len']}", str(r["vni"] or "-"),
                   str(r["mtu"] or "auto"), f"{r['hosts']}/{r['capacity']}", r["state"]] for r in rows],
                 ["NAME", "DRIVER", "SUBNET", "PER HOST", "VNI", "MTU", "HOSTS", "STATE"])


def print_inspect(info: dict[str, Any], here: dict[str, Any] | None) -> None:
    print(f"cluster network {info['name']}: {info['driver']}, subnet {info['subnet']}, /{info['host_subnet_len']} per "
          f"host, VNI {info['vni'] if info['vni'] is not None else '-'}, MTU {info['mtu'] or 'auto'}, {info['state']}")
    print(table([[h["host"], h["public_ip"], h["subnet"], _age(h["lease_age"]), h["health"]] for h in info["hosts"]],
                ["HOST", "PUBLIC IP", "SUBNET", "LEASE AGE", "HEALTH"]))
    if here is not None:
        print(f"on this host: subnet {here['subnet']}, gateway {here['gateway']}, bridge {here['bridge']}, "
              f"MTU {here['mtu']}, {len(here['guests'])} guest(s)")
        for g in here["guests"]:
            print(f"  {g['guest']}  {g['ip']}  {g['ifname']}")


def cmd_rm(args: argparse.Namespace) -> int:
    ww = session(args)
    if args.dry_run:
        hosts = ww.cluster_hosts(args.name)
        held = ", ".join(f"{h['host']} ({h['subnet']})" for h in hosts)
        if args.json:
            print(dumps({"dry_run": True, "network": args.name, "hosts": hosts, "force": args.force}))
        elif not hosts:
            print(f"would remove cluster network {args.name} (no host uses it)")
        elif args.force:
            print(f"would drain cluster network {args.name}: {held} disconnect their guests and leave; then remove it")
        else:
            print(f"would refuse: cluster network {args.name} is used by {held} (add --force to drain it)")
        return 0
    net = ww.cluster_network_rm(args.name, force=args.force)
    if args.json:
        print(dumps({"removed": net.to_dict()}))
    else:
        print(f"removed cluster network {net.name} ({net.subnet})")
    return 0

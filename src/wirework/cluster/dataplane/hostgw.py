"""The `host-gw` data plane: plain routes to every peer's subnet via the peer's own address.

Only hosts on one L2 segment can do this: a peer whose address is not on-link (the route to it
has a gateway, or there is none) is left out, and the reason is reported (in the agent's log
and this host's status, which `wirework host ls` shows); the vxlan driver crosses routers.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from wirework.cluster.dataplane.base import (
    ROUTE_PROTO,
    Local,
    Planned,
    our_routes,
    probe_routes,
    route_steps,
    routes_after,
    usable_peers,
)
from wirework.cluster.model import HostSubnet
from wirework.drivers.routes import DelRoute
from wirework.model.host import Host, RouteInfo, RouteSpec
from wirework.plan.steps import Step

NAME = "host-gw"
OVERHEAD = 0


@dataclass(frozen=True)
class HostGwFacts:
    routes: tuple[RouteInfo, ...]


def probe(host: Host, local: Local) -> HostGwFacts:
    return HostGwFacts(probe_routes(host))


def on_link(routes: list[RouteInfo], ip: str) -> str | None:
    """None when `ip` is reachable directly on a segment; else why not (pure)."""
    addr = ipaddress.IPv4Address(ip)
    best: RouteInfo | None = None
    best_len = -1
    for r in routes:
        if r.table != 254 or r.proto == ROUTE_PROTO:
            continue
        net = ipaddress.IPv4Network("0.0.0.0/0" if r.dst == "default" else r.dst)
        if addr in net and (net.prefixlen > best_len or (net.prefixlen == best_len and best and r.metric < best.metric)):
            best, best_len = r, net.prefixlen
    if best is None:
        return f"this host has no route to {ip}"
    if best.gateway:
        return f"the route to {ip} goes via the router {best.gateway}"
    return None


def plan(local: Local, peers: list[HostSubnet], facts: HostGwFacts) -> Planned:
    wanted, problems = _wanted(local, peers, facts)
    drop, add = route_steps(wanted, our_routes(list(facts.routes), local.net))
    return Planned(drop + add, problems)


def expect(local: Local, peers: list[HostSubnet], facts: HostGwFacts) -> HostGwFacts:
    return HostGwFacts(routes_after(facts.routes, local.net, _wanted(local, peers, facts)[0]))


def _wanted(local: Local, peers: list[HostSubnet], facts: HostGwFacts) -> tuple[dict[str, RouteSpec], list[str]]:
    ok, problems = usable_peers(local, peers)
    wanted: dict[str, RouteSpec] = {}
    for peer in ok:
        why = on_link(list(facts.routes), peer.public_ip)
        if why is not None:
            problems.append(f"peer {peer.host} ({peer.public_ip}) is not on-link: {why}; host-gw needs every host on "
                            f"one L2 segment (use --driver vxlan across routers)")
            continue
        wanted[peer.subnet] = RouteSpec(peer.subnet, gateway=peer.public_ip, proto=ROUTE_PROTO)
    return wanted, problems


def teardown(local: Local, facts: HostGwFacts) -> list[Step]:
    return [DelRoute(RouteSpec(dst, r.gateway, r.dev, proto=ROUTE_PROTO))
            for dst, r in sorted(our_routes(list(facts.routes), local.net).items())]

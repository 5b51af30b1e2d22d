"""What every data plane shares: the local view it plans for, peer routes, names, MTUs.

A data plane is a pure planner: (this host's share of the network, the peers' records, probed
kernel facts) -> steps. It diffs, so a joining peer adds only its entries and a leaving one
removes only its own; every route it makes carries protocol `ROUTE_PROTO`, every device and
port the owner `cnet:<network>`, so stale entries are recognised without guessing.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from wirework.cluster.model import ClusterNetwork, HostSubnet
from wirework.drivers.routes import AddRoute, DelRoute
from wirework.errors import Conflict
from wirework.model.host import Host, RouteInfo, RouteSpec
from wirework.naming import short_hash
from wirework.plan.steps import Step

#: Routes to peers' subnets carry this protocol number ("W"): ours to remove, and only ours.
ROUTE_PROTO = 87


@dataclass(frozen=True)
class Local:
    """This host's side of one cluster network, settled before planning."""

    net: ClusterNetwork
    me: HostSubnet
    bridge: str  # the materialised network's Linux bridge (guests sit there)
    mtu: int
    underlay: str  # the device holding the public IP

    @property
    def owner(self) -> str:
        return owner_of_network(self.net.name)


@dataclass(frozen=True)
class Planned:
    steps: list[Step]
    problems: list[str] = field(default_factory=list)  # peers left out, and why


def owner_of_network(name: str) -> str:
    return f"cnet:{name}"


def device_name(prefix: str, network: str) -> str:
    """`<prefix>-<name>` when it fits in 15 characters, else a shortened name plus a hash."""
    name = f"{prefix}-{network}"
    if len(name) <= 15 and all(c.isalnum() or c in "-_." for c in network):
        return name
    return f"{prefix}-{re.sub(r'[^A-Za-z0-9]', '', network)[:5]}-{short_hash(network, length=4)}"


def mtu_for(net: ClusterNetwork, underlay_mtu: int, overhead: int) -> int:
    """The network's MTU on this host; a configured one the underlay cannot carry is refused."""
    room = underlay_mtu - overhead
    if net.mtu is None:
        return room
    if net.mtu > room:
        raise Conflict(f"cluster network {net.name} has MTU {net.mtu}, but this host's underlay carries only {room} "
                       f"inside {net.driver} ({underlay_mtu} - {overhead}); lower the network's MTU or raise the underlay's")
    return net.mtu


def our_routes(routes: list[RouteInfo], net: ClusterNetwork) -> dict[str, RouteInfo]:
    """Routes this network's agent made (its protocol, inside the network's subnet), by prefix."""
    whole = ipaddress.IPv4Network(net.subnet)
    out = {}
    for r in routes:
        if r.proto == ROUTE_PROTO and r.table == 254 and r.dst != "default" and ":" not in r.dst \
                and ipaddress.IPv4Network(r.dst).subnet_of(whole):
            out[r.dst] = r
    return out


def probe_routes(host: Host) -> tuple[RouteInfo, ...]:
    return tuple(r for r in host.net.routes(table=254) if ":" not in r.dst)


def route_steps(wanted: dict[str, RouteSpec], have: dict[str, RouteInfo], *,
                fresh: bool = False) -> tuple[list[Step], list[Step]]:
    """(removals, additions) that turn the routes we have into the routes we want."""
    drop: list[Step] = []
    add: list[Step] = []
    for dst, info in sorted(have.items()):
        want = wanted.get(dst)
        if want is None or (want.gateway, want.dev or info.dev) != (info.gateway, info.dev):
            drop.append(DelRoute(RouteSpec(dst, info.gateway, info.dev, onlink=info.onlink, proto=ROUTE_PROTO)))
    for dst, spec in sorted(wanted.items()):
        found = have.get(dst)
        if found is None or (spec.gateway, spec.dev or found.dev) != (found.gateway, found.dev):
            add.append(AddRoute(spec, fresh=fresh, probed=True))  # the table was just read
    return drop, add


def routes_after(facts_routes: tuple[RouteInfo, ...], net: ClusterNetwork, wanted: dict[str, RouteSpec]
                 ) -> tuple[RouteInfo, ...]:
    """The routing table once `route_steps` ran: the others' routes, and exactly the wanted ones."""
    mine = our_routes(list(facts_routes), net)
    others = tuple(r for r in facts_routes if r.dst not in mine or mine[r.dst] is not r)
    return others + tuple(RouteInfo(dst, spec.gateway, spec.dev, proto=ROUTE_PROTO, onlink=spec.onlink)
                          for dst, spec in sorted(wanted.items()))


def usable_peers(local: Local, peers: list[HostSubnet]) -> tuple[list[HostSubnet], list[str]]:
    """Peers other than this host, with a public IP unlike ours (else a problem to report)."""
    ok, problems = [], []
    for peer in sorted(peers, key=lambda p: p.subnet):
        if peer.host == local.me.host:
            continue
        if peer.public_ip == local.me.public_ip:
            problems.append(f"peer {peer.host} ({peer.subnet}) claims this host's public IP {peer.public_ip}; left out")
            continue
        ok.append(peer)
    return ok, problems

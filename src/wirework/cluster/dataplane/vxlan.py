"""The `vxlan` data plane (flannel's layout): one Linux VXLAN device per host and network,
learning off, nothing flooded; per peer a permanent neighbour for its VTEP address, an FDB
entry for its VTEP MAC and a route to its subnet through that address (onlink).

The device's MAC is derived from the host id and the network, so it is known before the device
exists (the subnet record that carries it is written first) and stays the same across restarts.
The device's address is the host subnet's network address (/32): the host's own packets to
remote guests leave with it, and no guest address is spent.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace

from wirework.cluster.dataplane.base import (
    ROUTE_PROTO,
    Local,
    Planned,
    device_name,
    our_routes,
    probe_routes,
    route_steps,
    routes_after,
    usable_peers,
)
from wirework.cluster.model import ClusterNetwork, HostSubnet
from wirework.drivers.fdb import ZERO_MAC, AddFdb, AddNeighbour, DelFdb, DelNeighbour
from wirework.drivers.links import DeleteLink, LinkUp, SetMtu
from wirework.drivers.routes import AddAddress
from wirework.drivers.vxlan import OVERHEAD_V4, CreateVxlan
from wirework.errors import Conflict
from wirework.model.host import FdbEntry, Host, LinkInfo, NeighInfo, RouteInfo, RouteSpec, VxlanInfo
from wirework.naming import owner_of, short_hash
from wirework.plan.steps import Step

NAME = "vxlan"
OVERHEAD = OVERHEAD_V4


def vxlan_device(network: str) -> str:
    return device_name("wwx", network)


def vtep_mac(host: str, network: str) -> str:
    """Locally administered unicast, stable per (host id, network)."""
    digest = short_hash("vtep", host, network, length=10)
    return "0a:" + ":".join(digest[i:i + 2] for i in range(0, 10, 2))


@dataclass(frozen=True)
class VxlanFacts:
    link: LinkInfo | None
    info: VxlanInfo | None
    addrs: tuple[str, ...]
    fdb: tuple[FdbEntry, ...]
    neigh: tuple[NeighInfo, ...]
    routes: tuple[RouteInfo, ...]


def probe(host: Host, local: Local) -> VxlanFacts:
    dev = vxlan_device(local.net.name)
    link = host.net.link(dev)
    if link is None:
        return VxlanFacts(None, None, (), (), (), probe_routes(host))
    return VxlanFacts(link, host.net.vxlan(dev), tuple(a.cidr for a in host.net.addresses(ifname=dev)),
                      tuple(host.net.fdb(dev)), tuple(host.net.neighbours(dev)), probe_routes(host))


@dataclass(frozen=True)
class _Wanted:
    peers: list[HostSubnet]
    problems: list[str]
    fdb: set[tuple[str, str]]  # (VTEP MAC, public IP)
    neigh: dict[str, str]  # VTEP address -> VTEP MAC
    routes: dict[str, RouteSpec]


def _wanted(local: Local, peers: list[HostSubnet]) -> _Wanted:
    dev = vxlan_device(local.net.name)
    ok, problems = usable_peers(local, peers)
    problems += [f"peer {p.host} ({p.subnet}) published no VTEP MAC; left out" for p in ok if not p.vtep_mac]
    ok = [p for p in ok if p.vtep_mac]
    return _Wanted(ok, problems, {(p.vtep_mac, p.public_ip) for p in ok}, {p.vtep_ip: p.vtep_mac for p in ok},
                   {p.subnet: RouteSpec(p.subnet, gateway=p.vtep_ip, dev=dev, onlink=True, proto=ROUTE_PROTO) for p in ok})


def plan(local: Local, peers: list[HostSubnet], facts: VxlanFacts) -> Planned:
    dev = vxlan_device(local.net.name)
    steps, fresh = _device_steps(local, dev, facts)
    want = _wanted(local, peers)
    fdb = set() if fresh else {(e.mac, e.dst) for e in facts.fdb if e.mac != ZERO_MAC}
    neigh = {} if fresh else {n.ip: n.mac for n in facts.neigh if n.mac}
    drop_routes, add_routes = route_steps(want.routes, {} if fresh else our_routes(list(facts.routes), local.net),
                                          fresh=fresh)
    steps += drop_routes
    steps += [DelNeighbour(dev, ip) for ip in sorted(neigh) if ip not in want.neigh and _in_network(local.net, ip)]
    steps += [DelFdb(dev, dst, mac) for mac, dst in sorted(fdb - want.fdb)]
    # Planned from what was probed (or is known to be there): no step looks again.
    steps += [AddNeighbour(dev, ip, mac, fresh, probed=True, old_mac=neigh.get(ip, ""))
              for ip, mac in sorted(want.neigh.items()) if neigh.get(ip) != mac]
    steps += [AddFdb(dev, dst, mac, fresh, probed=True) for mac, dst in sorted(want.fdb - fdb)]
    return Planned(steps + add_routes, want.problems)


def expect(local: Local, peers: list[HostSubnet], facts: VxlanFacts) -> VxlanFacts | None:
    """The device's tables once `plan` ran; None when it makes the device (probe it next time)."""
    dev = vxlan_device(local.net.name)
    if facts.link is None or _device_steps(local, dev, facts)[1]:
        return None
    want = _wanted(local, peers)
    others = tuple(n for n in facts.neigh if not n.mac or not _in_network(local.net, n.ip))
    return VxlanFacts(replace(facts.link, mtu=local.mtu, up=True), facts.info,
                      tuple(sorted(set(facts.addrs) | {f"{local.me.vtep_ip}/32"})),
                      tuple(e for e in facts.fdb if e.mac == ZERO_MAC) + tuple(FdbEntry(m, d) for m, d in sorted(want.fdb)),
                      others + tuple(NeighInfo(ip, mac, dev) for ip, mac in sorted(want.neigh.items())),
                      routes_after(facts.routes, local.net, want.routes))


def _in_network(net: ClusterNetwork, ip: str) -> bool:
    return ":" not in ip and ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(net.subnet)


def _device_steps(local: Local, dev: str, facts: VxlanFacts) -> tuple[list[Step], bool]:
    """Create the device, or keep it (MTU fixed), or re-create it when its settings moved."""
    net, me = local.net, local.me
    assert net.vni is not None
    create: list[Step] = [CreateVxlan(dev, net.vni, me.public_ip, local.owner, net.port, local.underlay, local.mtu,
                                      me.vtep_mac),
                          AddAddress(dev, f"{me.vtep_ip}/32", fresh=True), LinkUp(dev, fresh=True)]
    if facts.link is None:
        return create, True
    if owner_of(facts.link.alias) != local.owner or facts.info is None:
        raise Conflict(f"{dev} exists and is not cluster network {net.name}'s VXLAN device (alias "
                       f"{facts.link.alias!r}); remove it or rename the network")
    info = facts.info
    if (info.vni, info.local, info.port, info.learning, facts.link.mac) != (net.vni, me.public_ip, net.port, False,
                                                                              me.vtep_mac):
        return [DeleteLink(dev, None, local.owner), *create], True
    steps: list[Step] = [SetMtu(dev, local.mtu)] if facts.link.mtu != local.mtu else []
    if f"{me.vtep_ip}/32" not in facts.addrs:
        steps.append(AddAddress(dev, f"{me.vtep_ip}/32"))
    if not facts.link.up:
        steps.append(LinkUp(dev))
    return steps, False


def teardown(local: Local, facts: VxlanFacts) -> list[Step]:
    """The device (its routes, neighbours and FDB entries go with it)."""
    return [DeleteLink(vxlan_device(local.net.name), None, local.owner)]

"""The `ovs-vxlan` / `ovs-gre` data planes: the seed's S10 layout, automated.

Per host and network an Open vSwitch bridge `wwo-<name>` (userspace datapath where the kernel
has no OVS module) whose own port is enslaved to the network's Linux bridge, with one tunnel
port per peer. Tunnel ports are `protected`: OVS never forwards between two of them, so the
full mesh has no loops and needs no spanning tree. Per peer a route to its subnet via its
gateway address on the Linux bridge (onlink): the packets cross the tunnel, and the peer's
bridge answers ARP for its own gateway.
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
from wirework.cluster.model import HostSubnet
from wirework.drivers.links import LinkUp, SetMaster, SetMtu
from wirework.drivers.routes import DelRoute
from wirework.drivers.switch import OvsAddBridge, OvsDelBridge, OvsDelPort
from wirework.drivers.tunnel import OvsAddTunnelPort
from wirework.errors import Unsupported
from wirework.model.host import Host, LinkInfo, RouteInfo, RouteSpec
from wirework.naming import short_hash
from wirework.plan.steps import Step

#: Outer IPv4 + tunnel header + inner Ethernet: VXLAN 50, GRE 38 (42 with a key).
OVERHEAD = {"ovs-vxlan": 50, "ovs-gre": 38}
TUNNEL_TYPE = {"ovs-vxlan": "vxlan", "ovs-gre": "gre"}


def overhead(driver: str, key: int | None) -> int:
    return OVERHEAD[driver] + (4 if driver == "ovs-gre" and key is not None else 0)


def ovs_bridge(network: str) -> str:
    return device_name("wwo", network)


def tunnel_port(driver: str, network: str, peer_ip: str) -> str:
    """`gre`/`vxl` + the peer's address in hex + 3 characters of the network: unique per switch."""
    prefix = "gre" if driver == "ovs-gre" else "vxl"
    return f"{prefix}{int(ipaddress.IPv4Address(peer_ip)):08x}{short_hash(network, length=3)}"


@dataclass(frozen=True)
class OvsFacts:
    available: bool
    datapath: str  # what a new bridge gets: "system" with the kernel module, else "netdev"
    bridge_exists: bool
    port_link: LinkInfo | None  # the OVS bridge's own (internal) port as the kernel sees it
    master: str  # the Linux bridge it is enslaved to ("" when none)
    ports: tuple[tuple[str, str], ...]  # (port, owner) on the OVS bridge
    routes: tuple[RouteInfo, ...]


def probe(host: Host, local: Local) -> OvsFacts:
    name = ovs_bridge(local.net.name)
    routes = probe_routes(host)
    if not host.ovs.available():
        return OvsFacts(False, "", False, None, "", (), routes)
    datapath = "system" if host.ovs.kernel_datapath_available() else "netdev"
    exists = host.ovs.bridge_exists(name)
    link = host.net.link(name) if exists else None
    master = host.net.link_by_index(link.master) if link is not None and link.master else None
    ports = tuple((p, host.ovs.port_owner(p) or "") for p in host.ovs.ports(name)) if exists else ()
    return OvsFacts(True, datapath, exists, link, master.name if master else "", ports, routes)


def plan(local: Local, peers: list[HostSubnet], facts: OvsFacts) -> Planned:
    if not facts.available:
        raise Unsupported(feature="Open vSwitch", why=f"cluster network {local.net.name} ({local.net.driver}) needs "
                                                      "ovsdb-server and ovs-vswitchd running on this host")
    name, net = ovs_bridge(local.net.name), local.net
    steps: list[Step] = []
    if not facts.bridge_exists:
        steps.append(OvsAddBridge(name, facts.datapath, local.owner))
    if facts.port_link is None or facts.port_link.mtu != local.mtu:
        steps.append(SetMtu(name, local.mtu))
    if facts.master != local.bridge:
        steps.append(SetMaster(name, local.bridge))
    if facts.port_link is None or not facts.port_link.up:
        steps.append(LinkUp(name))
    ok, problems = usable_peers(local, peers)
    want, wanted = _wanted(local, ok)
    have = {port for port, owner in facts.ports if owner == local.owner}
    steps += [OvsDelPort(name, port, local.owner) for port in sorted(have - set(want))]
    steps += [OvsAddTunnelPort(name, port, TUNNEL_TYPE[net.driver], p.public_ip, local.owner, net.vni, protected=True)
              for port, p in sorted(want.items()) if port not in have]
    drop, add = route_steps(wanted, our_routes(list(facts.routes), local.net))
    return Planned(drop + steps + add, problems)


def _wanted(local: Local, ok: list[HostSubnet]) -> tuple[dict[str, HostSubnet], dict[str, RouteSpec]]:
    net = local.net
    ports = {tunnel_port(net.driver, net.name, p.public_ip): p for p in ok}
    routes = {p.subnet: RouteSpec(p.subnet, gateway=p.gateway, dev=local.bridge, onlink=True, proto=ROUTE_PROTO)
              for p in ok}
    return ports, routes


def expect(local: Local, peers: list[HostSubnet], facts: OvsFacts) -> OvsFacts | None:
    """The switch and routes once `plan` ran; None when it makes the bridge (probe it next time)."""
    if not facts.available or not facts.bridge_exists or facts.port_link is None:
        return None
    ports, routes = _wanted(local, usable_peers(local, peers)[0])
    others = tuple(p for p in facts.ports if p[1] != local.owner)
    return replace(facts, port_link=replace(facts.port_link, mtu=local.mtu, up=True), master=local.bridge,
                   ports=others + tuple((port, local.owner) for port in sorted(ports)),
                   routes=routes_after(facts.routes, local.net, routes))


def teardown(local: Local, facts: OvsFacts) -> list[Step]:
    routes = [DelRoute(RouteSpec(dst, r.gateway, r.dev, onlink=r.onlink, proto=ROUTE_PROTO))
              for dst, r in sorted(our_routes(list(facts.routes), local.net).items())]
    return [*routes, OvsDelBridge(ovs_bridge(local.net.name), local.owner)]

"""Uplink (S9): move a NIC's addresses and routes onto a bridge and enslave the NIC, safely.

`probe_uplink` reads the NIC, its addresses and its routes (every table); `plan_uplink` is a
pure function of spec + facts. Step order: create the bridge, remove the NIC's routes
(default first), remove its addresses (secondaries first), enslave it, bring the bridge up,
add the addresses (primaries first) and routes (default last) to the bridge. Every step has
its inverse, so a failure anywhere rolls back to exactly the starting point; the removal of
routes before addresses matters, because the kernel drops routes silently with the last
address and they would not be restored.

The same plan with an Open vSwitch bridge as target builds the underlay that userspace OVS
tunnels need (`tunnels.ovs`). Records, confirmation and the automatic revert live in
`uplink.state`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace

from wirework.drivers.links import CreateBridge, LinkUp, SetMaster, SetMtu
from wirework.drivers.routes import AddAddress, AddRoute, DelAddress, DelRoute
from wirework.drivers.switch import OvsAddBridge, OvsAddPort
from wirework.errors import Conflict, InvalidInput, NotFound, Unsupported
from wirework.model.host import Host, LinkInfo, RouteInfo, RouteSpec
from wirework.plan.steps import Plan, Step

RT_TABLE_LOCAL = 255
RTPROT_KERNEL = 2
_SCOPES = {0: "", 253: "link", 254: "host"}
NIC_KINDS = ("", "veth", "vlan", "bond", "team", "macvlan", "dummy")


@dataclass(frozen=True)
class UplinkSpec:
    bridge: str
    nic: str
    ovs: bool | None = None  # None: an OVS bridge when BRIDGE already is one, else a Linux bridge
    check: str | None = None  # address to ping afterwards (default: the moved default gateway)


@dataclass(frozen=True)
class UplinkFacts:
    nic: LinkInfo
    bridge_kind: str  # "bridge", "ovs", "new-bridge", "new-ovs"
    datapath: str
    enslaved: bool  # the NIC already is a port of the bridge
    addresses: tuple[str, ...]  # to move, in the kernel's order (primaries first)
    routes: tuple[RouteSpec, ...]  # to move, in the order they are added back
    gateway: str | None

    @property
    def ovs(self) -> bool:
        return self.bridge_kind in ("ovs", "new-ovs")


def owner_of_uplink(bridge: str) -> str:
    return f"uplink:{bridge}"


def validate_uplink(bridge: str, nic: str, *, ovs: bool | None = None, check: str | None = None) -> UplinkSpec:
    for what, name in (("bridge", bridge), ("NIC", nic)):
        if not name or len(name) > 15 or "/" in name or " " in name:
            raise InvalidInput(what=what, value=name, why="an interface name has 1 to 15 characters, no '/' or space")
    if bridge == nic:
        raise InvalidInput(what="bridge", value=bridge, why="the bridge and the NIC must differ")
    if check:
        try:
            ipaddress.ip_address(check)
        except ValueError:
            raise InvalidInput(what="--check address", value=check, why="not an IP address") from None
    return UplinkSpec(bridge, nic, ovs, check)


def probe_uplink(host: Host, spec: UplinkSpec) -> UplinkFacts:
    """Read the NIC, the bridge, and what must move, without changing anything."""
    nic = host.net.link(spec.nic)
    if nic is None:
        raise NotFound(what="NIC", name=spec.nic, fix="check the name with 'ip link'")
    if nic.kind not in NIC_KINDS:
        raise InvalidInput(what="NIC", value=spec.nic, why=f"it is a {nic.kind} interface; name the physical NIC")
    kind, datapath = _bridge_kind(host, spec)
    enslaved = _enslaved(host, nic, spec.bridge, kind)
    addresses = tuple(a.cidr for a in host.net.addresses(ifname=spec.nic) if not _link_local(a.cidr))
    routes = movable_routes(host.net.routes(), spec.nic)
    gateway = next((r.gateway for r in routes if r.dst == "default" and r.gateway and ":" not in r.gateway), None)
    gateway = gateway or next((r.gateway for r in routes if r.dst == "default" and r.gateway), None)
    return UplinkFacts(nic, kind, datapath, enslaved, addresses, routes, gateway)


def _bridge_kind(host: Host, spec: UplinkSpec) -> tuple[str, str]:
    link = host.net.link(spec.bridge)
    if host.ovs.available() and host.ovs.bridge_exists(spec.bridge):
        if spec.ovs is False:
            raise InvalidInput(what="bridge", value=spec.bridge, why="it is an Open vSwitch bridge, not a Linux bridge")
        return "ovs", host.ovs.bridge_datapath(spec.bridge)
    if link is not None:
        if link.kind != "bridge":
            raise InvalidInput(what="bridge", value=spec.bridge, why=f"it exists and is a {link.kind or 'device'}, not a bridge")
        if spec.ovs:
            raise InvalidInput(what="bridge", value=spec.bridge, why="it is a Linux bridge; drop --ovs or name another")
        return "bridge", ""
    if not spec.ovs:
        return "new-bridge", ""
    if not host.ovs.available():
        raise Unsupported(feature="Open vSwitch", why="ovsdb-server is not running (apt-get install openvswitch-switch)")
    return "new-ovs", "system" if host.ovs.kernel_datapath_available() else "netdev"


def _enslaved(host: Host, nic: LinkInfo, bridge: str, kind: str) -> bool:
    if kind == "ovs":
        if nic.name in host.ovs.ports(bridge):
            return True
    elif kind == "bridge":
        master = host.net.link(bridge)
        if master is not None and nic.master == master.index:
            return True
    if nic.master:
        owner = host.net.link_by_index(nic.master)
        raise Conflict(f"{nic.name} already is a port of {owner.name if owner else nic.master}; release it first")
    return False


def _link_local(cidr: str) -> bool:
    return ipaddress.ip_interface(cidr).ip.is_link_local


def movable_routes(routes: list[RouteInfo], nic: str) -> tuple[RouteSpec, ...]:
    """The NIC's routes in every table, minus what the kernel makes by itself (prefix routes of
    addresses, the local table), ordered as they are added back: on-link first, default last."""
    out = [_as_spec(r) for r in routes
           if r.dev == nic and r.table != RT_TABLE_LOCAL and r.proto != RTPROT_KERNEL and not _multicast(r.dst)]
    return tuple(sorted(out, key=lambda r: (r.dst == "default", bool(r.gateway))))


def _multicast(dst: str) -> bool:
    return dst != "default" and ipaddress.ip_network(dst, strict=False).is_multicast


def _as_spec(r: RouteInfo) -> RouteSpec:
    return RouteSpec(dst=r.dst, gateway=r.gateway, dev=r.dev, table=r.table, metric=r.metric, src=r.src,
                     onlink=r.onlink, scope=_SCOPES.get(r.scope, ""), proto=r.proto)


def plan_uplink(spec: UplinkSpec, facts: UplinkFacts) -> Plan:
    """The planned change (pure): see the module docstring for the order and why."""
    owner = owner_of_uplink(spec.bridge)
    steps: list[Step] = []
    if facts.bridge_kind == "new-bridge":
        steps.append(CreateBridge(spec.bridge, owner))
    elif facts.bridge_kind == "new-ovs":
        steps.append(OvsAddBridge(spec.bridge, facts.datapath, owner))
    steps += [DelRoute(r) for r in reversed(facts.routes)]
    steps += [DelAddress(spec.nic, a) for a in reversed(facts.addresses)]
    if not facts.enslaved:
        steps.append(OvsAddPort(spec.bridge, spec.nic, owner) if facts.ovs else SetMaster(spec.nic, spec.bridge))
    if facts.ovs:
        steps.append(SetMtu(spec.bridge, facts.nic.mtu))
    steps.append(LinkUp(spec.bridge))
    steps += [AddAddress(spec.bridge, a) for a in facts.addresses]
    steps += [AddRoute(replace(r, dev=spec.bridge)) for r in facts.routes]
    if facts.enslaved and not facts.addresses and not facts.routes:
        steps = []  # already in place
    notes = _notes(spec, facts)
    return Plan("uplink", owner, tuple(steps), notes)


def _notes(spec: UplinkSpec, facts: UplinkFacts) -> tuple[str, ...]:
    target = spec.check or facts.gateway
    if target is None:
        return (f"{spec.nic} has no default gateway and no --check address: connectivity is not checked",)
    return (f"afterwards: ping {target} from the host; without an answer everything is put back",)

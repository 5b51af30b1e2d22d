"""Linux VXLAN data plane as planned steps: the device, its bridge, and static per-peer entries.

No multicast and no flooding to unknown places: the device is made with learning off and gets
one all-zero-MAC FDB entry per peer (`bridge fdb append 00:00:00:00:00:00 dev vx dst PEER`),
so broadcast and unknown unicast are replicated head-end to exactly the peers listed. For a
routed overlay (flannel's layout) `peer_l3_steps` adds the per-peer route + neighbour + FDB
triple instead. The entries' steps live in `drivers.fdb`. `probe_vxlan` reads what exists;
`plan_vxlan` is pure; an existing device is verified field by field (create-or-verify), and a
converging run adds missing peers and drops peers no longer listed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from wirework.drivers.fdb import ZERO_MAC, AddFdb, AddNeighbour, DelFdb
from wirework.drivers.links import CreateBridge, CreatesTaggedLink, DeleteLink, LinkUp, SetMaster, SetMtu, tag_or_remove
from wirework.errors import Conflict, InvalidInput, NotFound
from wirework.model.addr import parse_ifname
from wirework.model.host import FdbEntry, Host, LinkInfo, RouteSpec, VxlanInfo
from wirework.naming import owner_of, tag
from wirework.plan.steps import Step, register

VXLAN_PORT = 4789
MAX_VNI = 2**24 - 1
#: Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14); IPv6 underlay: 20 more.
OVERHEAD_V4 = 50
OVERHEAD_V6 = 70


def vxlan_mtu(underlay_mtu: int, *, ipv6: bool = False) -> int:
    """The largest MTU inside a Linux VXLAN: 1500 underlay -> 1450."""
    return underlay_mtu - (OVERHEAD_V6 if ipv6 else OVERHEAD_V4)


@dataclass(frozen=True)
class VxlanSpec:
    name: str
    vni: int
    local: str
    peers: tuple[str, ...] = ()
    bridge: str = ""
    port: int = VXLAN_PORT
    mtu: int | None = None  # None: underlay MTU - overhead
    dev: str = ""  # the underlay device; "": the one holding `local`


def validate_vxlan(name: str, vni: int, local: str, peers: Sequence[str] = (), *, bridge: str | None = None,
                   port: int = VXLAN_PORT, mtu: int | None = None, dev: str | None = None) -> VxlanSpec:
    parse_ifname(name, "vxlan name")
    if not isinstance(vni, int) or not 1 <= vni <= MAX_VNI:
        raise InvalidInput(what="VNI", value=str(vni), why=f"a VXLAN network identifier is 1 to {MAX_VNI}")
    if not 1 <= port <= 65535:
        raise InvalidInput(what="VXLAN port", value=str(port), why="a UDP port is 1 to 65535")
    own = _ip(local, "local address")
    seen: list[str] = []
    for peer in peers:
        addr = _ip(peer, "VXLAN peer")
        if addr.version != own.version:
            raise InvalidInput(what="VXLAN peer", value=peer, why=f"local {local} is IPv{own.version}")
        if addr == own:
            raise InvalidInput(what="VXLAN peer", value=peer, why="that is the local address itself")
        if str(addr) not in seen:
            seen.append(str(addr))
    for what, value in (("bridge", bridge), ("dev", dev)):
        if value:
            parse_ifname(value, f"vxlan {what}")
    if bridge == name:
        raise InvalidInput(what="vxlan bridge", value=name, why="the bridge and the VXLAN device need two names")
    if mtu is not None and not 68 <= mtu <= 65535:
        raise InvalidInput(what="vxlan MTU", value=str(mtu), why="an MTU is 68 to 65535")
    return VxlanSpec(name, vni, str(own), tuple(seen), bridge or "", port, mtu, dev or "")


def _ip(text: str, what: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise InvalidInput(what=what, value=text, why="not an IP address") from None


@dataclass(frozen=True)
class VxlanFacts:
    underlay: LinkInfo  # the device holding the local address (or `dev`)
    link: LinkInfo | None = None  # a link already named like the VXLAN device
    info: VxlanInfo | None = None
    fdb: tuple[FdbEntry, ...] = ()
    bridge: LinkInfo | None = None


def probe_vxlan(host: Host, spec: VxlanSpec) -> VxlanFacts:
    """Read-only: the underlay device, and whatever already carries the names in the spec."""
    dev = spec.dev or next((a.ifname for a in host.net.addresses() if a.cidr.split("/")[0] == spec.local), "")
    underlay = host.net.link(dev) if dev else None
    if underlay is None:
        raise NotFound(what="VXLAN underlay address", name=spec.local,
                       fix="give the host that address on its underlay interface first")
    link = host.net.link(spec.name)
    info = host.net.vxlan(spec.name) if link is not None else None
    fdb = tuple(host.net.fdb(spec.name)) if info is not None else ()
    bridge = host.net.link(spec.bridge) if spec.bridge else None
    return VxlanFacts(underlay, link, info, fdb, bridge)


def plan_vxlan(spec: VxlanSpec, facts: VxlanFacts, owner: str) -> list[Step]:
    """Pure: the steps that make (or converge) the VXLAN device, its bridge and its peers."""
    mtu = spec.mtu or vxlan_mtu(facts.underlay.mtu, ipv6=":" in spec.local)
    steps: list[Step] = []
    if spec.bridge and facts.bridge is None:
        steps += [CreateBridge(spec.bridge, owner, mtu), LinkUp(spec.bridge, fresh=True)]
    elif spec.bridge:
        _check_bridge(spec.bridge, facts.bridge)
        steps += [SetMtu(spec.bridge, mtu)] if facts.bridge is not None and facts.bridge.mtu > mtu else []
    fresh = facts.link is None
    if fresh:
        steps.append(CreateVxlan(spec.name, spec.vni, spec.local, owner, spec.port, facts.underlay.name, mtu))
    else:
        _verify(spec, facts, owner)
        steps += [SetMtu(spec.name, mtu)]
    enslaved = facts.link is not None and facts.bridge is not None and facts.link.master == facts.bridge.index
    if spec.bridge and not enslaved:
        steps.append(SetMaster(spec.name, spec.bridge, fresh=fresh))
    steps.append(LinkUp(spec.name, fresh=fresh))
    have = {e.dst for e in facts.fdb if e.mac == ZERO_MAC}
    steps += [AddFdb(spec.name, peer, ZERO_MAC, fresh) for peer in spec.peers if peer not in have]
    steps += [DelFdb(spec.name, dst, ZERO_MAC) for dst in sorted(have - set(spec.peers))]
    return steps


def _check_bridge(name: str, bridge: LinkInfo | None) -> None:
    if bridge is not None and bridge.kind != "bridge":
        raise Conflict(f"{name} exists as a {bridge.kind or 'device'}, not a Linux bridge; "
                       "a VXLAN device can only be enslaved to a Linux bridge")


def _verify(spec: VxlanSpec, facts: VxlanFacts, owner: str) -> None:
    """An existing device must be ours and match: name the first field that differs."""
    link, info = facts.link, facts.info
    if link is None or info is None:
        kind = link.kind if link is not None else "device"
        raise Conflict(f"{spec.name} exists as a {kind or 'device'}, not a VXLAN device; pick another name")
    if owner_of(link.alias) != owner:
        raise Conflict(f"VXLAN device {spec.name} belongs to {owner_of(link.alias) or 'nobody'} (alias "
                       f"{link.alias!r}), not {owner}; remove it or pick another name")
    wanted = {"VNI": (info.vni, spec.vni), "local": (info.local, spec.local), "dstport": (info.port, spec.port),
              "learning": (info.learning, False)}
    for field, (have, want) in wanted.items():
        if have != want:
            raise Conflict(f"VXLAN device {spec.name} exists with {field} {have}, not {want}; "
                           "remove it first (it is re-created with the wanted settings)")


@dataclass(frozen=True)
class VxlanPeer:
    """A peer of a routed overlay: its underlay IP, VTEP MAC and address, and its subnet."""

    underlay: str
    vtep_mac: str
    vtep_ip: str
    subnet: str


def peer_l3_steps(dev: str, peer: VxlanPeer) -> list[Step]:
    """flannel's per-peer triple: route to the peer's subnet via its VTEP address (onlink),
    a permanent neighbour entry for that address, and an FDB entry for its MAC."""
    from wirework.drivers.routes import AddRoute

    route = RouteSpec(peer.subnet, gateway=peer.vtep_ip, dev=dev, onlink=True)
    return [AddNeighbour(dev, peer.vtep_ip, peer.vtep_mac), AddFdb(dev, peer.underlay, peer.vtep_mac),
            AddRoute(route)]


# -- steps ----------------------------------------------------------------------------------
@register
@dataclass(frozen=True)
class CreateVxlan(CreatesTaggedLink):
    kind = "create_vxlan"
    name: str
    vni: int
    local: str
    owner: str
    port: int = VXLAN_PORT
    underlay: str | None = None
    mtu: int | None = None
    mac: str | None = None  # None: the kernel picks one

    def apply(self, host: Host) -> Sequence[Step]:
        host.net.create_vxlan(self.name, vni=self.vni, local=self.local, port=self.port, learning=False,
                              underlay=self.underlay, mtu=self.mtu, mac=self.mac)
        tag_or_remove(host, self.name, None, self.owner)
        return [self.removal()]

    def removal(self) -> Step:
        return DeleteLink(self.name, None, self.owner)  # tag-checked, tolerates absence; FDB entries go with it

    def describe(self) -> str:
        return (f"create VXLAN device {self.name} (VNI {self.vni}, local {self.local}, UDP {self.port}, "
                f"learning off, MTU {self.mtu or 'default'})")

    def commands(self) -> list[str]:
        mtu = f" mtu {self.mtu}" if self.mtu else ""
        mtu += f" address {self.mac}" if self.mac else ""
        dev = f" dev {self.underlay}" if self.underlay else ""
        return [f"ip link add {self.name}{mtu} type vxlan id {self.vni} local {self.local} dstport {self.port}"
                f" nolearning{dev}", f"ip link set {self.name} alias {tag(self.owner)}"]

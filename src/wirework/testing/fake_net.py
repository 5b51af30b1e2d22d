"""The netlink side of `FakeHost`: links per namespace, addresses, routes, rules, VXLAN, FDB, ARP.

`FakeState` is everything a `FakeHost` models, in plain containers, so that a snapshot before
"apply then undo" can be compared with the state after.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from wirework.errors import Conflict, NotFound
from wirework.model.addr import IPInterface
from wirework.model.host import (
    AddrInfo,
    FdbEntry,
    LinkInfo,
    NeighInfo,
    RouteInfo,
    RouteSpec,
    RuleInfo,
    RuleSpec,
    VxlanInfo,
)

if TYPE_CHECKING:
    from wirework.testing.fake import FakeHost


@dataclass
class FakeState:
    links: dict[tuple[str | None, str], LinkInfo] = field(default_factory=dict)
    addrs: set[tuple[str | None, str, str]] = field(default_factory=set)
    routes: set[tuple[str | None, RouteSpec]] = field(default_factory=set)
    rules: set[tuple[str | None, RuleSpec]] = field(default_factory=set)
    ovs_bridges: dict[str, str] = field(default_factory=dict)
    ovs_ports: dict[str, tuple[str, str]] = field(default_factory=dict)
    accepts: set[tuple[str, str]] = field(default_factory=set)
    sysctls: dict[tuple[str | None, str], str] = field(default_factory=dict)
    offload: dict[tuple[str | None, str], bool] = field(default_factory=dict)
    hairpin: dict[str, bool] = field(default_factory=dict)  # bridge ports of the host namespace
    vxlans: dict[str, VxlanInfo] = field(default_factory=dict)
    fdb: set[tuple[str, FdbEntry]] = field(default_factory=set)
    neigh: set[tuple[str, str, str]] = field(default_factory=set)  # (dev, ip, mac)


class FakeNet:
    def __init__(self, state: FakeState, owner: FakeHost) -> None:
        self.s = state
        self.h = owner
        self._next = 100

    def _check(self, call: str) -> None:
        self.h.maybe_fail(call)

    def link(self, name: str, ns: str | None = None) -> LinkInfo | None:
        return self.s.links.get((ns, name))

    def link_by_index(self, index: int, ns: str | None = None) -> LinkInfo | None:
        return next((li for (n, _), li in self.s.links.items() if n == ns and li.index == index), None)

    def links(self, ns: str | None = None) -> list[LinkInfo]:
        return [li for (n, _), li in self.s.links.items() if n == ns]

    def hwaddr(self, name: str, ns: str | None = None) -> tuple[str, int] | None:
        link = self.s.links.get((ns, name))
        return (link.mac, link.mtu) if link is not None else None

    def _add(self, ns: str | None, name: str, kind: str, mtu: int | None = None, mac: str | None = None) -> None:
        if (ns, name) in self.s.links:
            raise Conflict(f"interface {name!r} already exists")
        self._next += 1
        mac = mac or f"02:00:00:00:00:{self._next % 256:02x}"
        self.s.links[(ns, name)] = LinkInfo(self._next, name, kind, mtu or 1500, mac, False)

    def create_veth(self, host_name: str, peer_name: str, peer_ns: str | None, *, mtu: int | None,
                    peer_mac: str | None, master: str | None = None, up: bool = False) -> None:
        self._check("create_veth")
        if master:
            self._check("set_master")  # the kernel enslaves at creation: all or nothing
        if (peer_ns, peer_name) in self.s.links:
            raise Conflict(f"interface {peer_name!r} already exists")
        self._add(None, host_name, "veth", mtu)
        self._add(peer_ns, peer_name, "veth", mtu, peer_mac)
        if master:
            self._set(host_name, None, master=self.s.links[(None, master)].index)
        if up:
            self._set(host_name, None, up=True)

    def create_bridge(self, name: str, *, mtu: int | None, vlan_filtering: bool) -> None:
        self._check("create_bridge")
        self._add(None, name, "bridge", mtu)

    def create_macvlan(self, parent: str, name: str, ns: str | None, *, mode: str, mac: str | None, mtu: int | None) -> None:
        self._check("create_macvlan")
        self._add(ns, name, "macvlan", mtu, mac)

    def create_vlan(self, parent: str, name: str, vid: int) -> None:
        self._check("create_vlan")
        self._add(None, name, "vlan")

    def delete_link(self, name: str, ns: str | None = None, *, owner: str | None = None) -> bool:
        info = self.s.links.get((ns, name))
        if info is None or (owner is not None and info.alias != f"wirework:{owner}"):
            return False
        gone = [(ns, name)]
        if info.kind == "veth":  # the peer goes too
            gone += [key for key, other in self.s.links.items()
                     if other.kind == "veth" and other.alias == info.alias and key != (ns, name)]
        for key in gone:
            del self.s.links[key]
        self.s.addrs = {a for a in self.s.addrs if (a[0], a[1]) not in gone}
        self.s.routes = {r for r in self.s.routes if (r[0], r[1].dev) not in gone}
        if ns is None:  # a VXLAN device takes its forwarding and neighbour entries with it
            self.s.vxlans.pop(name, None)
            self.s.fdb = {f for f in self.s.fdb if f[0] != name}
            self.s.neigh = {n for n in self.s.neigh if n[0] != name}
        return True

    def _set(self, name: str, ns: str | None, **changes: Any) -> None:
        info = self.s.links.get((ns, name))
        if info is None:
            raise NotFound(what="interface", name=name)
        self.s.links[(ns, name)] = replace(info, **changes)

    def move_link(self, name: str, ns: str | None, to_ns: str | None, new_name: str) -> None:
        info = self.s.links.pop((ns, name))
        self.s.addrs = {a for a in self.s.addrs if (a[0], a[1]) != (ns, name)}  # moving flushes them
        self.s.links[(to_ns, new_name)] = replace(info, name=new_name, up=False)

    def set_alias(self, name: str, alias: str, ns: str | None = None, *, up: bool = False) -> None:
        self._set(name, ns, alias=alias, **({"up": True} if up else {}))

    def set_master(self, name: str, master: str | None, ns: str | None = None) -> None:
        self._check("set_master")
        index = self.s.links[(ns, master)].index if master else 0
        self._set(name, ns, master=index)

    def set_up(self, name: str, ns: str | None = None, up: bool = True) -> None:
        self._check("set_up")
        self._set(name, ns, up=up)

    def set_mtu(self, name: str, mtu: int, ns: str | None = None) -> None:
        self._set(name, ns, mtu=mtu)

    def addresses(self, ns: str | None = None, ifname: str | None = None, *, v4_only: bool = False) -> list[AddrInfo]:
        return [AddrInfo(i, c) for n, i, c in sorted(self.s.addrs, key=str) if n == ns and ifname in (None, i)]

    def add_address(self, name: str, cidr: IPInterface, ns: str | None = None) -> bool:
        self._check("add_address")
        if (ns, name) not in self.s.links:
            raise NotFound(what="interface", name=name)
        key = (ns, name, str(cidr))
        if key in self.s.addrs:
            return False
        self.s.addrs.add(key)
        return True

    def is_local_address(self, ip: str, ns: str | None = None) -> bool:
        return any(n == ns and c.split("/")[0] == ip for n, _, c in self.s.addrs)

    def del_address(self, name: str, cidr: IPInterface, ns: str | None = None) -> bool:
        key = (ns, name, str(cidr))
        if key not in self.s.addrs:
            return False
        self.s.addrs.discard(key)
        return True

    def routes(self, ns: str | None = None, *, table: int | None = None) -> list[RouteInfo]:
        scopes = {"link": 253, "host": 254}
        return [RouteInfo(r.dst, r.gateway, r.dev, r.table, r.metric, r.src, scopes.get(r.scope, 0), r.proto, r.onlink)
                for n, r in self.s.routes if n == ns and table in (None, r.table)]

    def add_route(self, route: RouteSpec, ns: str | None = None) -> bool:
        self._check("add_route")
        if (ns, route) in self.s.routes:
            return False
        self.s.routes.add((ns, route))
        return True

    def replace_route(self, route: RouteSpec, ns: str | None = None) -> None:
        self.s.routes = {(n, r) for n, r in self.s.routes
                         if not (n == ns and (r.dst, r.table, r.metric) == (route.dst, route.table, route.metric))}
        self.s.routes.add((ns, route))

    def del_route(self, route: RouteSpec, ns: str | None = None) -> bool:
        if (ns, route) not in self.s.routes:
            return False
        self.s.routes.discard((ns, route))
        return True

    def rules(self, ns: str | None = None) -> list[RuleInfo]:
        return [RuleInfo(r.priority, r.table, r.src, r.dst) for n, r in self.s.rules if n == ns]

    def add_rule(self, rule: RuleSpec, ns: str | None = None) -> bool:
        if (ns, rule) in self.s.rules:
            return False
        self.s.rules.add((ns, rule))
        return True

    def del_rule(self, rule: RuleSpec, ns: str | None = None) -> bool:
        if (ns, rule) not in self.s.rules:
            return False
        self.s.rules.discard((ns, rule))
        return True

    def bridge_vlan(self, port: str, vid: int, *, add: bool) -> None:
        self._check("bridge_vlan")

    def hairpin(self, port: str) -> bool | None:
        link = self.s.links.get((None, port))
        return None if link is None or not link.master else self.s.hairpin.get(port, False)

    def set_hairpin(self, port: str, on: bool) -> None:
        self._check("set_hairpin")
        self.s.hairpin[port] = on

    def set_tx_offload(self, name: str, ns: str | None, on: bool) -> None:
        self.s.offload[(ns, name)] = on

    # VXLAN devices, their FDB and neighbour entries (host namespace only)
    def create_vxlan(self, name: str, *, vni: int, local: str, port: int, learning: bool, underlay: str | None,
                     mtu: int | None) -> None:
        self._check("create_vxlan")
        if any(v.vni == vni and v.port == port and v.local == local for v in self.s.vxlans.values()):
            raise Conflict(f"a VXLAN device with VNI {vni} already exists")
        self._add(None, name, "vxlan", mtu)
        index = self.s.links[(None, underlay)].index if underlay else 0
        self.s.vxlans[name] = VxlanInfo(vni, local, port, learning, index)

    def vxlan(self, name: str) -> VxlanInfo | None:
        return self.s.vxlans.get(name)

    def _need(self, dev: str) -> None:
        if (None, dev) not in self.s.links:
            raise NotFound(what="interface", name=dev)

    def fdb(self, dev: str) -> list[FdbEntry]:
        return sorted((e for d, e in self.s.fdb if d == dev), key=lambda e: (e.mac, e.dst))

    def fdb_append(self, dev: str, mac: str, dst: str) -> bool:
        self._check("fdb_append")
        self._need(dev)
        if (dev, FdbEntry(mac, dst)) in self.s.fdb:
            return False
        self.s.fdb.add((dev, FdbEntry(mac, dst)))
        return True

    def fdb_del(self, dev: str, mac: str, dst: str) -> bool:
        if (dev, FdbEntry(mac, dst)) not in self.s.fdb:
            return False
        self.s.fdb.discard((dev, FdbEntry(mac, dst)))
        return True

    def neighbours(self, dev: str) -> list[NeighInfo]:
        return [NeighInfo(ip, mac, d) for d, ip, mac in sorted(self.s.neigh) if d == dev]

    def neigh_add(self, dev: str, ip: str, mac: str) -> bool:
        self._check("neigh_add")
        self._need(dev)
        if (dev, ip, mac) in self.s.neigh:
            return False
        self.s.neigh = {n for n in self.s.neigh if n[:2] != (dev, ip)} | {(dev, ip, mac)}
        return True

    def neigh_del(self, dev: str, ip: str) -> bool:
        gone = {n for n in self.s.neigh if n[:2] == (dev, ip)}
        self.s.neigh -= gone
        return bool(gone)

"""`wirework check`: the reachability matrix of networks, guests and published ports.

`expected_matrix` is pure: what the stored definitions promise (icc, internal, masquerade,
links, host-only ports), following the firewall's policy (docs/FIREWALL.md). `matrix` also
sends real packets (`diagnostics.probe`) from the host, from an optional "LAN neighbour"
namespace and from every guest, and reports where reality and promise differ.

Targets: `GUEST@NET` (the guest's address, TCP port CHECK_PORT), `GUEST:HOSTIP:PORT/PROTO`
(a published port, through a host address), `lan` (egress to the LAN neighbour; the cell also
says which source address the neighbour saw) and `host` (the host's address on the network).
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field
from typing import Any

from wirework.context import HostContext
from wirework.diagnostics.probe import Probe, Responder, Responders, run_probes
from wirework.kernel.netns import netns_path
from wirework.networks import connops, endpoints
from wirework.networks import network as nets
from wirework.networks.endpoints import Endpoint
from wirework.networks.network import Network

CHECK_PORT = 47999


@dataclass(frozen=True)
class Source:
    name: str
    netns: str | None
    network: str = ""  # the guest's default-route network ("" for host and lan)
    networks: tuple[str, ...] = ()
    addr: str = ""


@dataclass(frozen=True)
class Target:
    label: str
    responder: str  # the name that must answer
    netns: str | None
    port: int
    proto: str = "tcp"
    network: str = ""
    addr: str = ""  # the guest address (direct targets)
    host_ip: str | None = None  # published ports: the host address they are bound to (None: all)
    kind: str = "guest"  # guest, port, lan, host
    probe_port: int = 0  # published ports: the host port probes go to


@dataclass
class Cell:
    source: str
    target: str
    expected: bool
    expected_seen_as: str = ""
    observed: bool | None = None
    seen_as: str = ""

    @property
    def ok(self) -> bool:
        if self.observed is None:
            return True
        return self.observed == self.expected and (not self.expected_seen_as or not self.observed
                                                   or self.seen_as == self.expected_seen_as)


@dataclass
class CheckResult:
    sources: list[str]
    targets: list[str]
    cells: list[Cell] = field(default_factory=list)
    probed: bool = False

    @property
    def consistent(self) -> bool:
        return all(c.ok for c in self.cells)

    def cell(self, source: str, target: str) -> Cell | None:
        return next((c for c in self.cells if c.source == source and c.target == target), None)

    def to_dict(self) -> dict[str, Any]:
        return {"sources": self.sources, "targets": self.targets, "probed": self.probed,
                "consistent": self.consistent, "cells": [asdict(c) for c in self.cells]}


@dataclass(frozen=True)
class World:
    networks: dict[str, Network]
    links: frozenset[frozenset[str]]
    eps: tuple[Endpoint, ...]
    lan_addr: str | None  # the host's address as the LAN neighbour reaches it
    lan_ip: str | None  # the LAN neighbour's own address

    def linked(self, a: str, b: str) -> bool:
        return frozenset((a, b)) in self.links


def sources_of(world: World, host_ns: str | None, lan_ns: str | None) -> list[Source]:
    out = [Source("host", host_ns)]
    if lan_ns is not None:
        out.append(Source("lan", lan_ns))
    by_guest: dict[str, list[Endpoint]] = {}
    for ep in world.eps:
        by_guest.setdefault(ep.guest.key, []).append(ep)
    for eps in by_guest.values():
        main = next((e for e in eps if e.default_route), eps[0])
        out.append(Source(main.guest.name, main.guest.netns_path, main.network, tuple(e.network for e in eps), main.address))
    return out


def targets_of(world: World, host_ns: str | None, lan_ns: str | None) -> list[Target]:
    out = [Target(f"{ep.guest.name}@{ep.network}", ep.guest.name, ep.guest.netns_path, CHECK_PORT,
                  network=ep.network, addr=ep.address) for ep in world.eps]
    for ep in world.eps:
        for m in connops.mappings(ep):
            out.append(Target(f"{ep.guest.name}:{m.host_ip or '*'}:{m.host_port}/{m.proto}", ep.guest.name,
                              ep.guest.netns_path, m.guest_port, m.proto, ep.network, "", m.host_ip, "port", m.host_port))
    if lan_ns is not None and world.lan_ip:
        out.append(Target("lan", "lan", lan_ns, CHECK_PORT, addr=world.lan_ip, kind="lan"))
    out.append(Target("host", "host", host_ns, CHECK_PORT, kind="host"))
    return out


def expected(world: World, src: Source, tgt: Target) -> tuple[bool, str]:
    """Whether `src` reaches `tgt` by the rules, and the source address the target should see."""
    if tgt.kind == "host":
        return True, ""
    if tgt.kind == "lan":
        if src.name == "host":
            return True, ""
        net = world.networks[src.network]
        if net.internal:
            return False, ""
        return True, (world.lan_addr or "") if net.masquerade else src.addr
    if tgt.kind == "port":
        host_only = tgt.host_ip is not None and ipaddress.ip_address(tgt.host_ip).is_loopback
        if src.name == "host":
            return True, ""
        if host_only:
            return False, ""
        if src.name == "lan":
            return True, ""
        same = tgt.network in src.networks
        return same or not world.networks[src.network].internal or world.linked(src.network, tgt.network), ""
    net = world.networks[tgt.network]
    if src.name == "host":
        return True, ""
    if src.name == "lan":
        return not net.internal and not net.masquerade, ""
    if tgt.network in src.networks:
        return net.icc, ""
    return world.linked(src.network, tgt.network), ""


def _probe_addr(world: World, src: Source, tgt: Target, gateways: dict[str, str]) -> str:
    if tgt.kind in ("guest", "lan"):
        return tgt.addr
    if tgt.kind == "host":
        return world.lan_addr or "" if src.name == "lan" else gateways.get(src.network, "127.0.0.1")
    if src.name == "host":
        return tgt.host_ip or "127.0.0.1"
    return tgt.host_ip or (world.lan_addr if world.lan_addr else gateways.get(src.network, ""))


def matrix(ctx: HostContext, *, lan: str | None = None, lan_addr: str | None = None, probe: bool = True) -> CheckResult:
    world = _world(ctx, lan, lan_addr)
    host_ns = netns_path(ctx.host.netns) if ctx.host.netns else None
    lan_ns = netns_path(lan) if lan else None
    srcs, tgts = sources_of(world, host_ns, lan_ns), targets_of(world, host_ns, lan_ns)
    gateways = {n.name: n.gateway for n in world.networks.values()}
    result = CheckResult([s.name for s in srcs], [t.label for t in tgts], probed=probe)
    pairs = [(s, t) for s in srcs for t in tgts
             if t.responder != s.name and not (t.kind == "host" and s.name == "host")]
    for s, t in pairs:
        ok, seen = expected(world, s, t)
        result.cells.append(Cell(s.name, t.label, ok, seen))
    if probe:
        responders = {(t.responder, t.netns, t.port, t.proto) for t in tgts}
        with Responders([Responder(*r) for r in sorted(responders, key=str)]):
            answers = run_probes([Probe(s.netns, _probe_addr(world, s, t, gateways), t.probe_port or t.port, t.proto)
                                  for s, t in pairs])
        for cell, (_, t), answer in zip(result.cells, pairs, answers, strict=True):
            cell.observed = answer.name == t.responder or (answer.name == "?" and answer.connected)
            cell.seen_as = answer.seen_as
    return result


def _world(ctx: HostContext, lan: str | None, lan_addr: str | None) -> World:
    networks = {n.name: n for n in nets.all_networks(ctx.store, ctx.host_id)}
    links = frozenset(frozenset(p) for p in nets.all_links(ctx.store, ctx.host_id))
    eps = tuple(endpoints.all_endpoints(ctx.store, ctx.host_id))
    lan_ip = None
    if lan is not None:
        addrs = [a.cidr.split("/")[0] for a in ctx.host.net.addresses(netns_path(lan)) if not a.cidr.startswith("127.")
                 and ":" not in a.cidr]
        lan_ip = addrs[0] if addrs else None
    return World(networks, links, eps, lan_addr, lan_ip)


def render_matrix(result: CheckResult) -> str:
    width = max(len(s) for s in result.sources) + 2
    lines = ["rows: from; columns: to.  yes/no = reachable as the rules promise;  "
             "!yes/!no = observed differently than promised" + ("" if result.probed else " (not probed)")]
    for i, label in enumerate(result.targets):
        lines.append(f"  [{i}] {label}")
    lines.append(" " * width + "".join(f"{f'[{i}]':>6}" for i in range(len(result.targets))))
    for src in result.sources:
        row = [_mark(result.cell(src, t)) for t in result.targets]
        lines.append(f"{src:<{width}}" + "".join(f"{m:>6}" for m in row))
    seen = [f"  {c.source} reaches the LAN as {c.seen_as}" for c in result.cells
            if c.target == "lan" and c.observed and c.seen_as and c.source != "host"]
    lines += (["source addresses the LAN neighbour saw (masquerade or not):", *seen]) if seen else []
    lines.append("consistent" if result.consistent else "INCONSISTENT: see the cells marked '!'")
    return "\n".join(lines)


def _mark(cell: Cell | None) -> str:
    if cell is None:
        return "-"
    text = "yes" if cell.expected else "no"
    return text if cell.ok else "!" + ("yes" if cell.observed else "no")

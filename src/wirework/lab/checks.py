"""Semantic checks of a topology: each returns (line, message) pairs, nothing is touched."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from wirework.errors import InvalidInput
from wirework.lab import kinds
from wirework.lab.model import Item, Topology
from wirework.model.addr import check_gateway, parse_cidr, parse_ifname, parse_ip

Problems = list[tuple[int, str]]
Net = ipaddress.IPv4Network | ipaddress.IPv6Network


def semantic_problems(topo: Topology) -> Problems:
    problems: Problems = []
    for check in (_segments, _interfaces, _items, _guests, _addresses, _overlaps, _tunnels, _expects):
        problems += check(topo)
    return problems


def _err(fn: object, *args: object) -> str | None:
    try:
        fn(*args)  # type: ignore[operator]
    except InvalidInput as exc:
        return str(exc)
    return None


def _segments(topo: Topology) -> Problems:
    out: Problems = []
    for seg in topo.segments:
        net = ipaddress.ip_network(seg.subnet) if seg.subnet else None
        for m in seg.members:
            if m.host not in topo.hosts:
                out.append((m.line, f"segment {seg.name}: unknown host {m.host!r} (hosts: {', '.join(topo.hosts)})"))
            bad = _err(parse_cidr, m.address, f"address of {m.host} on {seg.name}")
            if bad:
                out.append((m.line, bad))
                continue
            iface = ipaddress.ip_interface(m.address)
            if net is not None and iface.ip not in net:
                out.append((m.line, f"address {m.address} of {m.host} is outside segment {seg.name} ({net})"))
            elif net is not None and iface.network != net:
                out.append((m.line, f"address {m.address} of {m.host} has another prefix than segment {seg.name} ({net})"))
            if m.gateway and (bad := _err(check_gateway, parse_ip(m.gateway, "gateway"), iface)):
                out.append((m.line, bad))
    return out


def _interfaces(topo: Topology) -> Problems:
    out: Problems = []
    seen: dict[tuple[str, str], int] = {}
    for seg in topo.segments:
        for m in seg.members:
            bad = _err(parse_ifname, m.ifname, f"interface name of {m.host} on {seg.name}")
            if bad or m.ifname == "lo":
                out.append((m.line, bad or f"interface name 'lo' of {m.host} is reserved"))
            first = seen.setdefault((m.host, m.ifname), m.line)
            if first != m.line:
                out.append((m.line, f"host {m.host} already has an interface {m.ifname} (line {first})"))
    return out


def _items(topo: Topology) -> Problems:
    out: Problems = []
    for item in topo.items():
        for key in ("name", "bridge", "nic", "dev"):
            value = item.arg(key)
            if value is not None and (bad := _err(parse_ifname, str(value), f"{item.kind} {key}")):
                out.append((item.line, bad))
        for cidr in kinds.KINDS[item.kind].addresses(item) if item.kind in kinds.KINDS else []:
            if bad := _err(parse_cidr, cidr, f"address of {item.kind} {item.arg('name')}"):
                out.append((item.line, bad))
        if item.kind == "route":
            out += _route(item)
        if item.kind in kinds.KINDS:
            out += [(item.line, text) for text in kinds.KINDS[item.kind].check(topo, item)]
    return out


def _route(item: Item) -> Problems:
    out: Problems = []
    dst = str(item.arg("to"))
    if dst != "default":
        try:
            ipaddress.ip_network(dst, strict=True)
        except ValueError as exc:
            out.append((item.line, f"route destination {dst!r} is invalid ({exc})"))
    if item.arg("via") and (bad := _err(parse_ip, str(item.arg("via")), "route gateway")):
        out.append((item.line, bad))
    if not item.arg("via") and not item.arg("dev"):
        out.append((item.line, f"route to {dst} needs 'via' or 'dev'"))
    return out


def _host_ifnames(topo: Topology, host: str) -> set[str]:
    names = {m.ifname for _, m in topo.members_of(host)}
    for item in topo.hosts[host].setup:
        if item.kind in kinds.KINDS:
            names.update(kinds.KINDS[item.kind].provides(item))
    return names


def _guests(topo: Topology) -> Problems:
    out: Problems = []
    for g in topo.guests.values():
        known = _host_ifnames(topo, g.host)
        ifnames: set[str] = set()
        for a in g.attach:
            if a.bridge not in known and not a.bridge.startswith(("br", "ovs")):
                out.append((a.line, f"guest {g.name}: host {g.host} sets up no interface {a.bridge!r} "
                                    f"(it has: {', '.join(sorted(known)) or 'none'})"))
            if bad := _err(parse_ifname, a.ifname, f"interface name of guest {g.name}"):
                out.append((a.line, bad))
            if a.ifname in ifnames:
                out.append((a.line, f"guest {g.name} has two interfaces named {a.ifname}"))
            ifnames.add(a.ifname)
            if a.ip is None and not a.dhcp:
                out.append((a.line, f"guest {g.name}: attach to {a.bridge} needs 'ip' (ADDRESS/PREFIX) or 'dhcp: true'"))
            elif a.ip and (bad := _err(parse_cidr, a.ip, f"address of guest {g.name}")):
                out.append((a.line, bad))
            elif a.ip and a.gateway and (bad := _err(check_gateway, parse_ip(a.gateway, "gateway"),
                                                     ipaddress.ip_interface(a.ip))):
                out.append((a.line, f"guest {g.name}: {bad}"))
    return out


def addresses(topo: Topology) -> Iterator[tuple[str, str, int]]:
    """(owner, cidr, line) of every address the file declares; owner is a host or guest name."""
    for seg in topo.segments:
        for m in seg.members:
            yield m.host, m.address, m.line
    for item in topo.items():
        if item.kind in kinds.KINDS:
            for cidr in kinds.KINDS[item.kind].addresses(item):
                yield item.host, cidr, item.line
    for g in topo.guests.values():
        for a in g.attach:
            if a.ip:
                yield g.name, a.ip, a.line


def _valid(cidr: str) -> bool:
    try:
        ipaddress.ip_interface(cidr)
    except ValueError:
        return False
    return True


def _addresses(topo: Topology) -> Problems:
    out: Problems = []
    seen: dict[str, tuple[str, int]] = {}
    for owner, cidr, line in addresses(topo):
        if not _valid(cidr):
            continue
        ip = str(ipaddress.ip_interface(cidr).ip)
        if ip in seen and seen[ip] != (owner, line):
            out.append((line, f"address {ip} of {owner} is already used by {seen[ip][0]} (line {seen[ip][1]})"))
        seen.setdefault(ip, (owner, line))
    return out


def _overlay_bridges(topo: Topology, host: str) -> set[str]:
    """Bridges joined across hosts at L2 (a VXLAN port, or an OVS bridge with a tunnel)."""
    items = topo.hosts[host].setup
    tunnelled = {i.arg("bridge") for i in items if i.kind == "tunnel"}
    out = {str(i.arg("bridge")) for i in items if i.kind == "vxlan" and i.arg("bridge")}
    out |= {str(i.arg("name")) for i in items if i.kind == "bridge" and set(i.arg("ports") or []) & tunnelled}
    return out | {str(b) for b in tunnelled}


def _overlaps(topo: Topology) -> Problems:
    """Per-host subnets (bridge addresses) must not overlap another host's, except a shared overlay."""
    nets: list[tuple[str, Net, bool, int]] = []
    for host in topo.hosts:
        overlay = _overlay_bridges(topo, host)
        for item in topo.hosts[host].setup:
            if item.kind in ("bridge", "ovs_bridge"):
                for cidr in kinds.KINDS[item.kind].addresses(item):
                    if _valid(cidr):
                        net = ipaddress.ip_interface(cidr).network
                        nets.append((host, net, str(item.arg("name")) in overlay, item.line))
    out: Problems = []
    for i, (host, net, shared, line) in enumerate(nets):
        for other, onet, oshared, oline in nets[:i]:
            if other != host and net.version == onet.version and net.overlaps(onet) and \
                    not (net == onet and shared and oshared):
                out.append((line, f"subnet {net} of host {host} overlaps {onet} of host {other} (line {oline}); "
                                  "per-host subnets must not overlap"))
    for seg in topo.segments:
        if not seg.subnet:
            continue
        snet = ipaddress.ip_network(seg.subnet)
        for host, net, _, line in nets:
            if net.version == snet.version and net.overlaps(snet):
                out.append((line, f"subnet {net} of host {host} overlaps segment {seg.name} ({snet})"))
    return out


def _tunnels(topo: Topology) -> Problems:
    out: Problems = []
    owners: dict[str, str] = {}
    for owner, cidr, _ in addresses(topo):
        if _valid(cidr) and owner in topo.hosts:
            owners[str(ipaddress.ip_interface(cidr).ip)] = owner
    for item in topo.items():
        if item.kind == "tunnel":
            remote = str(item.arg("remote"))
            if owners.get(remote) is None:
                out.append((item.line, f"tunnel on {item.host} to {remote}: no host in this lab has that address"))
            elif owners[remote] == item.host:
                out.append((item.line, f"tunnel on {item.host} to {remote}: that is {item.host}'s own address"))
        if item.kind == "vxlan" and owners.get(str(item.arg("local"))) != item.host:
            out.append((item.line, f"vxlan {item.arg('name')} on {item.host}: local {item.arg('local')} "
                                   f"is not an address of {item.host}"))
    return out


def _expects(topo: Topology) -> Problems:
    out: Problems = []
    known = set(topo.hosts) | set(topo.guests)
    for e in topo.expects:
        for name in e.sources + e.targets:
            if name not in known and (name in e.sources or _err(parse_ip, name)):
                out.append((e.line, f"expect: {name!r} is neither a host nor a guest" +
                            ("" if name in e.sources else " nor an IP address")))
    return out

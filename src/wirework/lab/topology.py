"""From a schema-checked document to a `Topology`, with the checks a schema cannot make.

Every problem is collected with its line (unknown host in a segment or link, duplicate names,
addresses outside their segment, overlapping per-host subnets, tunnels to addresses no host
has, bad interface names, kinds this build lacks) and reported together; nothing is created.
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Any

from wirework.errors import InvalidInput
from wirework.lab import etcd as lab_etcd
from wirework.lab import kinds
from wirework.lab.checks import semantic_problems
from wirework.lab.loader import LabDocument, LabFileError, LineList, LineMap, line_of
from wirework.lab.model import Attach, Expect, GuestDef, HostDef, Item, Member, Segment, Topology
from wirework.model.addr import parse_ifname

Problems = list[tuple[int, str]]


def build(doc: LabDocument, session_type: type | None = None) -> Topology:
    problems: Problems = []
    data = doc.data
    name = str(data.get("name") or _name_from_path(doc.path))
    hosts, guests = _hosts(data.get("hosts") or LineMap(), problems)
    segments = _segments(data, problems)
    expects = tuple(_expect(e, line_of(data.get("expect"), i)) for i, e in enumerate(data.get("expect") or []))
    etcd = lab_etcd.parse(data.get("etcd"), line_of(data, "etcd")) if "etcd" in data else None
    topo = Topology(name, doc.path, hosts, guests, segments, expects, str(data.get("description") or ""), etcd=etcd)
    problems += semantic_problems(topo) + lab_etcd.problems(topo)
    if session_type is not None:
        problems += _missing_kinds(topo, session_type)
    if problems:
        raise LabFileError([(doc.path, line, text) for line, text in sorted(problems)])
    return topo


def _name_from_path(path: str) -> str:
    stem = os.path.splitext(os.path.basename(path))[0].lower()
    return re.sub(r"[^a-z0-9-]", "-", stem)[:16].strip("-") or "lab"


def _hosts(raw: LineMap, problems: Problems) -> tuple[dict[str, HostDef], dict[str, GuestDef]]:
    hosts: dict[str, HostDef] = {}
    guests: dict[str, GuestDef] = {}
    for hname, body in raw.items():
        body = body or LineMap()
        line = line_of(raw, hname)
        items = tuple(_item(hname, entry, line_of(body.get("setup"), i), i)
                      for i, entry in enumerate(body.get("setup") or []))
        graw = body.get("guests") or LineMap()
        for gname, gbody in graw.items():
            gline = line_of(graw, gname)
            if gname in guests or gname in raw:
                problems.append((gline, f"guest name {gname!r} is already used by another guest or host"))
                continue
            guests[gname] = _guest(gname, hname, gbody or LineMap(), gline)
        uses_ovs = any(kinds.KINDS[i.kind].needs_ovs for i in items if i.kind in kinds.KINDS)
        hosts[hname] = HostDef(hname, bool(body.get("forwarding", True)), bool(body.get("ovs", uses_ovs)),
                               items, tuple(graw), line)
    return hosts, guests


def _item(host: str, entry: LineMap, line: int, index: int) -> Item:
    kind, args = next(iter(entry.items()))
    if kind == "ovs_bridge" and isinstance(args, str):
        args = {"name": args}
    return Item(host, kind, _plain(args), line, index)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _guest(name: str, host: str, body: LineMap, line: int) -> GuestDef:
    run = body.get("run")
    runs = tuple([run] if isinstance(run, str) else (run or []))
    raw = body.get("attach")
    entries = [raw] if isinstance(raw, dict) else list(raw or [])
    atts = []
    for i, a in enumerate(entries):
        aline = line_of(raw, i) if isinstance(raw, LineList) else line_of(body, "attach")
        atts.append(Attach(str(a["bridge"]), a.get("ip"), a.get("gateway"), str(a.get("ifname", f"eth{i}")),
                           a.get("mac"), a.get("vlan"), a.get("mtu"), bool(a.get("dhcp", False)), aline))
    return GuestDef(name, host, runs, tuple(atts), line)


def _segments(data: LineMap, problems: Problems) -> tuple[Segment, ...]:
    out: list[Segment] = []
    next_if: dict[str, int] = {}
    raw = data.get("segments") or LineMap()
    for sname, body in raw.items():
        members = []
        mraw = body["members"]
        for host, value in mraw.items():
            spec = value if isinstance(value, dict) else {"address": value}
            ifname = str(spec.get("ifname") or _next_ifname(next_if, host))
            members.append(Member(host, ifname, str(spec["address"]), spec.get("gateway"), line_of(mraw, host)))
        out.append(_segment(sname, body, members, line_of(raw, sname), problems))
    for i, link in enumerate(data.get("links") or []):
        line = line_of(data.get("links"), i)
        addrs = link.get("addresses") or []
        members = []
        for j, endpoint in enumerate(link["endpoints"]):
            host, _, ifname = str(endpoint).partition(":")
            if j >= len(addrs):
                problems.append((line, f"link endpoint {endpoint} needs an address (addresses: [A/P, B/P])"))
                continue
            members.append(Member(host, ifname, str(addrs[j]), None, line))
        out.append(_segment(f"link{i + 1}", link, members, line, problems))
    return tuple(out)


def _next_ifname(counter: dict[str, int], host: str) -> str:
    n = counter.get(host, 0)
    counter[host] = n + 1
    return f"eth{n}"


def _segment(name: str, body: Any, members: list[Member], line: int, problems: Problems) -> Segment:
    subnet = body.get("subnet")
    if subnet is None and members:
        subnet = str(ipaddress.ip_interface(members[0].address).network) if _valid_cidr(members[0].address) else ""
    else:
        try:
            subnet = str(ipaddress.ip_network(str(subnet), strict=True))
        except ValueError as exc:
            problems.append((line_of(body, "subnet"), f"segment {name}: subnet {subnet!r} is invalid ({exc})"))
            subnet = ""
    return Segment(name, str(subnet or ""), body.get("mtu"), body.get("rate"), body.get("delay"), body.get("loss"),
                   tuple(members), line)


def _valid_cidr(text: str) -> bool:
    try:
        ipaddress.ip_interface(text)
    except ValueError:
        return False
    return True


def _expect(raw: Any, line: int) -> Expect:
    def names(v: Any) -> tuple[str, ...]:
        return tuple(str(x) for x in (v if isinstance(v, list) else [v]))

    tcp = raw.get("tcp")
    return Expect(names(raw["from"]), names(raw["to"]), bool(raw.get("ping", tcp is None)), tcp, raw.get("mtu"),
                  str(raw.get("result", "pass")), line)


def _missing_kinds(topo: Topology, session_type: type) -> Problems:
    out: Problems = []
    for item in topo.items():
        kind = kinds.KINDS.get(item.kind)
        if kind is None:
            out.append((item.line, f"setup kind {item.kind!r} is unknown (known: {', '.join(sorted(kinds.KINDS))})"))
        elif not kinds.available(kind, session_type):
            out.append((item.line, f"setup kind {item.kind!r} needs Wirework.{kind.requires}(), "
                                    "which this build of wirework does not have yet"))
    return out


def check_ifname(name: str, what: str) -> str | None:
    try:
        parse_ifname(name, what)
    except InvalidInput as exc:
        return str(exc)
    return None

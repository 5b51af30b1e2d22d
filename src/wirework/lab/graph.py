"""lab graph: the topology as text for the terminal, or Graphviz dot (rendered to SVG/PNG/PDF).

Hosts are clusters holding their bridges, OVS bridges and guests; segments are switches
between hosts with each member's interface and address on the edge; tunnels are dashed edges
between the hosts that own their two ends.
"""

from __future__ import annotations

import ipaddress
import os

from wirework.errors import InvalidInput
from wirework.lab import kinds
from wirework.lab.model import Topology

FORMATS = ("text", "dot", "svg", "png", "pdf")
#: Output file extensions and the format each one means (`-o lab.png` writes PNG).
EXTENSIONS = {".txt": "text", ".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png", ".pdf": "pdf"}


def output_format(output: str | None, fmt: str | None) -> str:
    """`--format` when given; else what the output file's extension says; text on a terminal.

    An output file whose extension names no format is refused rather than filled with text.
    """
    if fmt is not None:
        return fmt
    if output is None:
        return "text"
    ext = os.path.splitext(output)[1].lower()
    if ext not in EXTENSIONS:
        known = ", ".join(EXTENSIONS)
        raise InvalidInput(what="graph output file", value=output,
                           why=f"its extension names no format ({known}); rename it or add --format {'|'.join(FORMATS)}")
    return EXTENSIONS[ext]


def underlays(topo: Topology) -> dict[tuple[str, str], str]:
    """(host, interface) -> the OVS bridge its address moves to. On the userspace datapath (the
    only one a lab host's private OVS has) `tunnel add` moves the underlay address off the
    segment interface onto an OVS bridge holding it, `ul-<interface>` unless named."""
    out: dict[tuple[str, str], str] = {}
    for item in topo.items("tunnel"):
        remote = ipaddress.ip_address(str(item.arg("remote")))
        for _seg, m in topo.members_of(item.host):
            iface = ipaddress.ip_interface(m.address)
            if iface.version == remote.version and remote in iface.network:
                out[(item.host, m.ifname)] = str(item.arg("underlay_bridge") or f"ul-{m.ifname}"[:15])
    return out


def text(topo: Topology) -> str:
    lines = [f"lab {topo.name} ({topo.path})"]
    moved = underlays(topo)
    for host in topo.hosts.values():
        extras = ["forwarding" if host.forwarding else "no forwarding"] + (["private OVS"] if host.ovs else [])
        lines.append(f"host {host.name}  [{', '.join(extras)}]")
        for seg, m in topo.members_of(host.name):
            ul = moved.get((host.name, m.ifname))
            if ul:
                lines.append(f"  {m.ifname:<8} {'(port of ' + ul + ')':<20} -> segment {seg.name}")
                lines.append(f"  {ul:<8} {m.address:<20} (Open vSwitch bridge holding {m.ifname}: the tunnel underlay)")
            else:
                lines.append(f"  {m.ifname:<8} {m.address:<20} -> segment {seg.name}")
        for item in host.setup:
            kind = kinds.KINDS.get(item.kind)
            lines.append(f"  {kind.describe(item) if kind else item.kind}")
        for gname in host.guests:
            g = topo.guests[gname]
            run = f"  runs: {'; '.join(g.run)}" if g.run else ""
            lines.append(f"  guest {g.name}{run}")
            for a in g.attach:
                gw = f" via {a.gateway}" if a.gateway else ""
                lines.append(f"    {a.ifname:<6} {a.ip or 'dhcp'}{gw} -> {a.bridge}")
    for seg in topo.segments:
        extras = [f"mtu {seg.mtu}"] if seg.mtu else []
        extras += [f"{k} {v}" for k, v in (("rate", seg.rate), ("delay", seg.delay), ("loss", seg.loss)) if v]
        members = ", ".join(f"{m.host}:{m.ifname}" for m in seg.members)
        lines.append(f"segment {seg.name} {seg.subnet}" + (f" [{', '.join(extras)}]" if extras else "") + f": {members}")
    return "\n".join(lines)


def _q(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def dot(topo: Topology) -> str:
    out = [f"graph {_q(topo.name)} {{", "  rankdir=LR; compound=true; node [fontname=Helvetica fontsize=10];",
           "  edge [fontname=Helvetica fontsize=9];"]
    for host in topo.hosts.values():
        out += _host_cluster(topo, host.name)
    for seg in topo.segments:
        out.append(f"  {_q('seg:' + seg.name)} [shape=ellipse style=filled fillcolor=lightyellow "
                   f"label={_q(seg.name + chr(10) + seg.subnet + (f' mtu {seg.mtu}' if seg.mtu else ''))}];")
        for m in seg.members:
            out.append(f"  {_q(m.host + ':' + m.ifname)} -- {_q('seg:' + seg.name)};")
    out += _tunnel_edges(topo)
    out.append("}")
    return "\n".join(out) + "\n"


def _host_cluster(topo: Topology, host: str) -> list[str]:
    h = topo.hosts[host]
    out = [f"  subgraph {_q('cluster_' + host)} {{", f"    label={_q('host ' + host)}; style=rounded; color=gray40;"]
    moved = underlays(topo)
    for _seg, m in topo.members_of(host):
        ul = moved.get((host, m.ifname))
        out.append(f"    {_q(host + ':' + m.ifname)} [shape=box label={_q(m.ifname + ('' if ul else chr(10) + m.address))}];")
        if ul:
            out.append(f"    {_q(host + ':' + ul)} [shape=box3d style=filled fillcolor=lightblue "
                       f"label={_q(ul + chr(10) + m.address)}];")
            out.append(f"    {_q(host + ':' + m.ifname)} -- {_q(host + ':' + ul)};")
    for item in h.setup:
        kind = kinds.KINDS.get(item.kind)
        for name in kind.provides(item) if kind else []:
            addrs = chr(10).join(kind.addresses(item)) if kind else ""
            shape = "box3d" if item.kind == "ovs_bridge" else "box"
            out.append(f"    {_q(host + ':' + name)} [shape={shape} style=filled fillcolor=lightblue "
                       f"label={_q(name + (chr(10) + addrs if addrs else ''))}];")
        for port in item.arg("ports") or []:
            out.append(f"    {_q(host + ':' + str(port))} -- {_q(host + ':' + str(item.arg('name')))};")
        if item.kind == "uplink":
            out.append(f"    {_q(host + ':' + str(item.arg('nic')))} -- {_q(host + ':' + str(item.arg('bridge')))};")
    for gname in h.guests:
        g = topo.guests[gname]
        label = g.name + "".join(f"\n{a.ifname} {a.ip or 'dhcp'}" for a in g.attach)
        out.append(f"    {_q('guest:' + g.name)} [shape=component style=filled fillcolor=palegreen label={_q(label)}];")
        out += [f"    {_q('guest:' + g.name)} -- {_q(host + ':' + a.bridge)};" for a in g.attach]
    out.append("  }")
    return out


def _tunnel_edges(topo: Topology) -> list[str]:
    owner: dict[str, str] = {}
    for seg in topo.segments:
        for m in seg.members:
            owner[str(ipaddress.ip_interface(m.address).ip)] = m.host
    out = []
    for item in topo.items("tunnel"):
        peer = owner.get(str(item.arg("remote")), "?")
        out.append(f"  {_q(item.host + ':' + str(item.arg('bridge')))} -- {_q(peer + ':' + str(item.arg('bridge')))} "
                   f"[style=dashed color=firebrick label={_q(str(item.arg('type')) + ' ' + str(item.arg('remote')))}];")
    for item in topo.items("vxlan"):
        out.append(f"  {_q(item.host + ':' + str(item.arg('bridge') or item.arg('name')))} -- "
                   f"{_q('vxlan:' + str(item.arg('vni')))} [style=dashed color=firebrick];")
    if topo.items("vxlan"):
        out.append(f"  {_q('vxlan:' + str(topo.items('vxlan')[0].arg('vni')))} [shape=doublecircle label=\"VXLAN\"];")
    return out


def render(topo: Topology, fmt: str) -> bytes:
    if fmt == "text":
        return (text(topo) + "\n").encode()
    if fmt == "dot":
        return dot(topo).encode()
    from wirework.kernel.labenv import render_graphviz

    return render_graphviz(dot(topo), fmt)

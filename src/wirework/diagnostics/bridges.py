"""`wirework bridges`: every bridge of a host (S4's `brctl show`, and what brctl never knew).

Linux bridges from netlink and Open vSwitch bridges from OVSDB, whoever made them: each with
who made it (a wirework network, a pipework-style attach, a Docker network, or unknown), its
addresses, its ports (with the guest behind each one when wirework wired it), STP, VLAN
filtering, MTU and state. Read-only.
"""

from __future__ import annotations

from typing import Any

from wirework.attachments import records
from wirework.context import HostContext
from wirework.errors import WireworkError
from wirework.model.host import LinkInfo
from wirework.naming import owner_of
from wirework.networks import endpoints
from wirework.networks import network as nets

DOCKER_BRIDGE_OPTION = "com.docker.network.bridge.name"


def list_bridges(ctx: HostContext) -> list[dict[str, Any]]:
    makers = _makers(ctx)
    guests = _guests_by_port(ctx)
    links = ctx.host.net.links()
    rows = [_linux(ctx, link, links, makers, guests) for link in links if link.kind == "bridge"]
    rows += [_ovs(ctx, name, makers, guests) for name in _ovs_bridges(ctx)]
    return sorted(rows, key=lambda r: str(r["name"]))


def _linux(ctx: HostContext, br: LinkInfo, links: list[LinkInfo], makers: dict[str, str],
           guests: dict[str, str]) -> dict[str, Any]:
    ports = sorted(p.name for p in links if p.master == br.index)
    return _row(ctx, br.name, "linux", _made_by(br.name, owner_of(br.alias), makers), br, ports, guests,
                stp=br.stp, vlan_filtering=br.vlan_filtering)


def _ovs(ctx: HostContext, name: str, makers: dict[str, str], guests: dict[str, str]) -> dict[str, Any]:
    ports = sorted(ctx.host.ovs.ports(name))
    return _row(ctx, name, "ovs", _made_by(name, ctx.host.ovs.bridge_owner(name), makers), ctx.host.net.link(name),
                ports, guests, stp=ctx.host.ovs.stp_enabled(name), vlan_filtering=False)


def _row(ctx: HostContext, name: str, kind: str, made_by: str, link: LinkInfo | None, ports: list[str],
         guests: dict[str, str], *, stp: bool, vlan_filtering: bool) -> dict[str, Any]:
    addrs = [a.cidr for a in ctx.host.net.addresses(ifname=name) if not a.cidr.lower().startswith("fe80:")] \
        if link is not None else []  # (IPv6 link-local addresses come by themselves: not shown)
    return {"name": name, "kind": kind, "made_by": made_by, "addresses": addrs,
            "ports": [{"name": p, "guest": guests.get(p)} for p in ports], "stp": stp,
            "vlan_filtering": vlan_filtering, "mtu": link.mtu if link else None,
            "state": (link.operstate or ("up" if link.up else "down")) if link else "missing"}


def _made_by(name: str, owner: str | None, makers: dict[str, str]) -> str:
    if name in makers:
        return makers[name]
    if owner and owner.startswith("net:"):
        return f"wirework network {owner[4:]}"
    if owner and owner.startswith("bridge:"):
        return "wirework attach (pipework)"
    if owner:
        return f"wirework ({owner})"
    return "unknown"


def _makers(ctx: HostContext) -> dict[str, str]:
    """Bridge name -> who made it, from records: wirework networks, then Docker's networks."""
    out = {n.bridge: f"wirework network {n.name}" for n in nets.all_networks(ctx.store, ctx.host_id)}
    if ctx.host.netns is None:  # Docker's bridges live in the machine's own namespace only
        for net in _docker_networks(ctx):
            if net.get("Driver") == "bridge":
                options = net.get("Options") or {}
                bridge = options.get(DOCKER_BRIDGE_OPTION) or f"br-{str(net.get('Id', ''))[:12]}"
                out.setdefault(bridge, f"Docker network {net.get('Name')}")
    return out


def _docker_networks(ctx: HostContext) -> list[dict[str, Any]]:
    if not ctx.docker.available():
        return []
    try:
        return ctx.docker.networks()
    except WireworkError:
        return []  # Docker not answering: its bridges show up as "unknown"


def _guests_by_port(ctx: HostContext) -> dict[str, str]:
    """Host end of a veth -> "GUEST IFNAME", for what wirework wired on this host."""
    out = {a.host_ifname: f"{a.guest.name} {a.cont_ifname}" for a in records.all_for_host(ctx.store, ctx.host_id)
           if a.host_ifname}
    for ep in endpoints.all_endpoints(ctx.store, ctx.host_id):
        att = records.load(ctx.store, ctx.host_id, ep.att_id)
        if att is not None and att.host_ifname:
            out[att.host_ifname] = f"{ep.guest.name} {ep.ifname}"
    return out


def _ovs_bridges(ctx: HostContext) -> list[str]:
    try:
        return ctx.host.ovs.bridges()
    except WireworkError:
        return []  # OVSDB not answering: only the Linux bridges can be listed

"""`wirework bridges`: every bridge of a host (S4's `brctl show`, and what brctl never knew).

Linux bridges from netlink and Open vSwitch bridges from OVSDB, whoever made them: each with
who made it (a wirework network, a pipework-style attach, a Docker network, or unknown), its
addresses, its ports (with the guest behind each one when wirework wired it), STP, VLAN
filtering, MTU and state. Read-only.
"""

from __future__ import annotations

from typing import Any

from wirework.errors import WireworkError
from wirework.model.host import LinkInfo
from wirework.naming import owner_of
from wirework.networks import endpoints, records
from wirework.networks import network as nets
from wirework.networks.session import Session

DOCKER_BRIDGE_OPTION = "com.docker.network.bridge.name"


def list_bridges(ww: Session) -> list[dict[str, Any]]:
    makers = _makers(ww)
    guests = _guests_by_port(ww)
    links = ww.host.net.links()
    rows = [_linux(ww, link, links, makers, guests) for link in links if link.kind == "bridge"]
    rows += [_ovs(ww, name, makers, guests) for name in _ovs_bridges(ww)]
    return sorted(rows, key=lambda r: str(r["name"]))


def _linux(ww: Session, br: LinkInfo, links: list[LinkInfo], makers: dict[str, str],
           guests: dict[str, str]) -> dict[str, Any]:
    ports = sorted(p.name for p in links if p.master == br.index)
    return _row(ww, br.name, "linux", _made_by(br.name, owner_of(br.alias), makers), br, ports, guests,
                stp=br.stp, vlan_filtering=br.vlan_filtering)


def _ovs(ww: Session, name: str, makers: dict[str, str], guests: dict[str, str]) -> dict[str, Any]:
    ports = sorted(ww.host.ovs.ports(name))
    return _row(ww, name, "ovs", _made_by(name, ww.host.ovs.bridge_owner(name), makers), ww.host.net.link(name),
                ports, guests, stp=ww.host.ovs.stp_enabled(name), vlan_filtering=False)


def _row(ww: Session, name: str, kind: str, made_by: str, link: LinkInfo | None, ports: list[str],
         guests: dict[str, str], *, stp: bool, vlan_filtering: bool) -> dict[str, Any]:
    addrs = [a.cidr for a in ww.host.net.addresses(ifname=name) if not a.cidr.lower().startswith("fe80:")] \
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


def _makers(ww: Session) -> dict[str, str]:
    """Bridge name -> who made it, from records: wirework networks, then Docker's networks."""
    out = {n.bridge: f"wirework network {n.name}" for n in nets.all_networks(ww.store, ww.host_id)}
    if ww.host.netns is None:  # Docker's bridges live in the machine's own namespace only
        for net in _docker_networks(ww):
            if net.get("Driver") == "bridge":
                options = net.get("Options") or {}
                bridge = options.get(DOCKER_BRIDGE_OPTION) or f"br-{str(net.get('Id', ''))[:12]}"
                out.setdefault(bridge, f"Docker network {net.get('Name')}")
    return out


def _docker_networks(ww: Session) -> list[dict[str, Any]]:
    if not ww.docker.available():
        return []
    try:
        return ww.docker.networks()
    except WireworkError:
        return []  # Docker not answering: its bridges show up as "unknown"


def _guests_by_port(ww: Session) -> dict[str, str]:
    """Host end of a veth -> "GUEST IFNAME", for what wirework wired on this host."""
    out = {a.host_ifname: f"{a.guest.name} {a.cont_ifname}" for a in records.all_for_host(ww.store, ww.host_id)
           if a.host_ifname}
    for ep in endpoints.all_endpoints(ww.store, ww.host_id):
        att = records.load(ww.store, ww.host_id, ep.att_id)
        if att is not None and att.host_ifname:
            out[att.host_ifname] = f"{ep.guest.name} {ep.ifname}"
    return out


def _ovs_bridges(ww: Session) -> list[str]:
    try:
        return ww.host.ovs.bridges()
    except WireworkError:
        return []  # OVSDB not answering: only the Linux bridges can be listed

"""The lab's Linux VXLAN kind: a device on a bridge, static per-peer FDB entries (head-end replication).

Peers are named by host (resolved to that host's address on the segment of `local`) or by
address, or `all` (every other host with a VXLAN device of the same VNI).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from wirework.lab.kind import Kind, Session, Undo, as_list, run_steps, undo_steps
from wirework.lab.model import Item, Topology
from wirework.model.addr import is_ip


def _host_ips(topo: Topology, host: str) -> list[str]:
    return [str(ipaddress.ip_interface(m.address).ip) for _, m in topo.members_of(host) if _cidr(m.address)]


def _cidr(text: str) -> bool:
    try:
        ipaddress.ip_interface(text)
    except ValueError:
        return False
    return True


def _peer_ip(topo: Topology, item: Item, peer: str) -> str | None:
    """A peer host's address on the segment holding this item's `local` (else its first)."""
    if is_ip(peer):
        return peer
    if peer not in topo.hosts:
        return None
    local = ipaddress.ip_address(str(item.arg("local")))
    pairs = [(ipaddress.ip_interface(m.address), m) for _, m in topo.members_of(peer) if _cidr(m.address)]
    same = [str(i.ip) for i, _ in pairs if i.version == local.version and local in i.network]
    found = same or [str(i.ip) for i, _ in pairs]
    return found[0] if found else None


def _peer_names(topo: Topology, item: Item) -> list[str]:
    raw = item.arg("peers")
    if raw == "all":  # every other host with a VXLAN device of the same VNI
        return [str(o.arg("local")) for o in topo.items("vxlan") if o.host != item.host and o.arg("vni") == item.arg("vni")]
    return as_list(raw)


def _resolve_vxlan(topo: Topology, item: Item) -> dict[str, Any]:
    peers = [_peer_ip(topo, item, p) or p for p in _peer_names(topo, item)]
    return {**item.args, "peers": list(dict.fromkeys(peers))}


def _check_vxlan(topo: Topology, item: Item) -> list[str]:
    name, host, vni = str(item.arg("name")), item.host, item.arg("vni")
    what = f"vxlan {name} on {host}"
    out = [] if isinstance(vni, int) and 1 <= vni <= 2**24 - 1 else [f"{what}: VNI {vni} is outside 1-16777215"]
    owners = {ip: h for h in topo.hosts for ip in _host_ips(topo, h)}
    for peer in _peer_names(topo, item):
        ip = _peer_ip(topo, item, peer)
        if ip is None:
            known = "is not a host of this lab" if peer not in topo.hosts else "has no segment address"
            out.append(f"{what}: peer {peer!r} {known} (hosts: {', '.join(topo.hosts)})")
        elif owners.get(ip) is None:
            out.append(f"{what}: peer {ip}: no host in this lab has that address")
        elif owners[ip] == host:
            out.append(f"{what}: peer {peer} is {host} itself")
    if item.arg("bridge") == name:
        out.append(f"{what}: the bridge and the VXLAN device need two names")
    from wirework.lab.kinds import KINDS  # the registry holds this kind too

    taken = {m.ifname for _, m in topo.members_of(host)}
    for other in topo.hosts[host].setup:
        # Two VXLAN items with one name: reported once, on the later one.
        later = other.index > item.index and other.kind != "vxlan"
        if other.kind in KINDS and (other.index < item.index or later):
            taken.update(KINDS[other.kind].provides(other))
        if other.kind == "vxlan" and other.index < item.index and other.arg("vni") == vni \
                and other.arg("port", 4789) == item.arg("port", 4789):
            out.append(f"{what}: VNI {vni} is already used by vxlan {other.arg('name')} on this host (line {other.line})")
    if name in taken:
        out.append(f"{what}: host {host} already has an interface named {name}")
    return out


def _apply_vxlan(ww: Session, item: Item, owner: str) -> Undo:
    from wirework.drivers.vxlan import VXLAN_PORT, plan_vxlan, probe_vxlan, validate_vxlan

    spec = validate_vxlan(str(item.arg("name")), item.arg("vni"), str(item.arg("local")), as_list(item.arg("peers")),
                          bridge=item.arg("bridge"), port=int(item.arg("port", VXLAN_PORT)), mtu=item.arg("mtu"),
                          dev=item.arg("dev"))
    return run_steps(ww, "lab-vxlan", owner, plan_vxlan(spec, probe_vxlan(ww.host, spec), owner))


def _describe_vxlan(item: Item) -> str:
    bridge = f" on bridge {item.arg('bridge')}" if item.arg("bridge") else ""
    peers = item.arg("peers")
    return (f"VXLAN {item.arg('name')} VNI {item.arg('vni')} local {item.arg('local')}{bridge}, peers "
            f"{peers if isinstance(peers, str) else ','.join(as_list(peers)) or 'none'}")


VXLAN = Kind("vxlan", describe=_describe_vxlan, apply=_apply_vxlan, remove=undo_steps,
              provides=lambda i: [str(i.arg("name"))] + ([str(i.arg("bridge"))] if i.arg("bridge") else []),
              check=_check_vxlan, resolve=_resolve_vxlan)

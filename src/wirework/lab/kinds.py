"""What a lab host's `setup:` can ask for: a registry of kinds, looked up by name.

Each kind turns one item into changes on one lab host through that host's own `Wirework`
session (`Wirework(netns=<host ns>, state_dir=<host state dir>)`), the same API and planned
steps as on a real machine. `apply` returns JSON-able undo data (None: nothing changed, the
item was already in place) and `remove` takes it back. Kinds whose API lives in another part
of wirework name the `Wirework` method they need (`requires`): a lab asking for a kind whose
method this build lacks is refused, with the line, before anything is created.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wirework.drivers.links import CreateBridge, LinkUp, SetMaster, SetMtu
from wirework.drivers.routes import AddAddress, AddRoute
from wirework.drivers.switch import OvsAddBridge
from wirework.errors import Conflict, InvalidInput, Unsupported
from wirework.lab.model import Item, Topology
from wirework.model.addr import is_ip
from wirework.model.host import RouteSpec
from wirework.naming import owner_of
from wirework.plan.executor import run_best_effort
from wirework.plan.steps import Plan, Step, step_from_dict

Undo = list[dict[str, Any]] | dict[str, Any] | None
Session = Any  # a wirework.api.Wirework bound to the lab host


@dataclass(frozen=True)
class Kind:
    name: str
    describe: Callable[[Item], str]
    apply: Callable[[Session, Item, str], Undo]  # (session, item, owner) -> undo data
    remove: Callable[[Session, Item, Undo], None]
    requires: str | None = None
    needs_ovs: bool = False
    #: interface names this item makes on the host (bridges guests may attach to)
    provides: Callable[[Item], list[str]] = field(default=lambda item: [])
    #: addresses (CIDR) this item puts on the host
    addresses: Callable[[Item], list[str]] = field(default=lambda item: [])
    #: problems only the whole topology shows (unknown peers, duplicate names), without lines
    check: Callable[[Topology, Item], list[str]] = field(default=lambda topo, item: [])
    #: the arguments to plan with, names of other hosts resolved against the topology
    resolve: Callable[[Topology, Item], dict[str, Any]] = field(default=lambda topo, item: item.args)


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    KINDS[kind.name] = kind
    return kind


def get(name: str) -> Kind:
    kind = KINDS.get(name)
    if kind is None:
        raise InvalidInput(what="setup kind", value=name, why=f"known kinds: {', '.join(sorted(KINDS))}")
    return kind


def available(kind: Kind, session_type: type) -> bool:
    return kind.requires is None or callable(getattr(session_type, kind.requires, None))


# -- plan-based kinds: wirework's own steps, run through the host session's executor ----------
def _run(ww: Session, operation: str, owner: str, steps: list[Step]) -> Undo:
    undo: list[Step] = ww.run_plan(Plan(operation, owner, tuple(steps)))
    return [s.to_dict() for s in undo] or None


def _undo_steps(ww: Session, item: Item, undo: Undo) -> None:
    if isinstance(undo, list):
        errors = run_best_effort(ww.host, [step_from_dict(d) for d in undo])
        if errors:
            raise Conflict(f"removing {item.kind} on {item.host} left: {'; '.join(errors)}")


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _ensure_bridge(ww: Session, name: str, owner: str, mtu: int | None) -> list[Step]:
    link = ww.host.net.link(name)
    if link is None:
        return [CreateBridge(name, owner, mtu)]
    if link.kind != "bridge":
        raise Conflict(f"{name} exists on this lab host as a {link.kind or 'device'}, not a bridge")
    if owner_of(link.alias) not in (owner, None):
        raise Conflict(f"bridge {name} belongs to {owner_of(link.alias)}, not {owner}")
    return [SetMtu(name, mtu)] if mtu else []


def _apply_bridge(ww: Session, item: Item, owner: str) -> Undo:
    name = str(item.arg("name"))
    steps = _ensure_bridge(ww, name, owner, item.arg("mtu"))
    for port in _as_list(item.arg("ports")):
        steps += [SetMaster(port, name), LinkUp(port)]
    steps.append(LinkUp(name))
    steps += [AddAddress(name, cidr) for cidr in _as_list(item.arg("address"))]
    return _run(ww, "lab-bridge", owner, steps)


register(Kind(
    "bridge",
    describe=lambda i: f"Linux bridge {i.arg('name')} {' '.join(_as_list(i.arg('address')))}".rstrip()
    + (f" ports {','.join(_as_list(i.arg('ports')))}" if i.arg("ports") else ""),
    apply=_apply_bridge, remove=_undo_steps,
    provides=lambda i: [str(i.arg("name"))], addresses=lambda i: _as_list(i.arg("address")),
))


def route_spec(item: Item) -> RouteSpec:
    dst = str(item.arg("to"))
    if dst != "default":
        dst = str(ipaddress.ip_network(dst, strict=False))
    return RouteSpec(dst, gateway=str(item.arg("via") or ""), dev=str(item.arg("dev") or ""))


register(Kind(
    "route",
    describe=lambda i: f"route {i.arg('to')}" + (f" via {i.arg('via')}" if i.arg("via") else "")
    + (f" dev {i.arg('dev')}" if i.arg("dev") else ""),
    apply=lambda ww, i, owner: _run(ww, "lab-route", owner, [AddRoute(route_spec(i))]),
    remove=_undo_steps,
))


def _apply_ovs_bridge(ww: Session, item: Item, owner: str) -> Undo:
    name = str(item.arg("name"))
    if not ww.host.ovs.available():
        raise Unsupported(feature="Open vSwitch", why=f"the private OVS instance of {item.host} is not running")
    steps: list[Step] = []
    if not ww.host.ovs.bridge_exists(name):
        steps.append(OvsAddBridge(name, "system" if ww.host.ovs.kernel_datapath_available() else "netdev", owner))
    steps.append(LinkUp(name))
    steps += [AddAddress(name, cidr) for cidr in _as_list(item.arg("address"))]
    return _run(ww, "lab-ovs-bridge", owner, steps)


register(Kind(
    "ovs_bridge", describe=lambda i: f"Open vSwitch bridge {i.arg('name')}",
    apply=_apply_ovs_bridge, remove=_undo_steps, needs_ovs=True, provides=lambda i: [str(i.arg("name"))],
))


# -- API kinds: one Wirework call each, undone by its counterpart --------------------------
def _apply_attach(ww: Session, item: Item, owner: str) -> Undo:
    a = item.args
    options = {k: a[k] for k in ("ip", "gateway", "mac", "vlan", "mtu", "dhcp") if a.get(k) is not None}
    result = ww.attach(a["guest"], a["bridge"], ifname=a.get("ifname", "eth0"), **options)
    return {"guest": a["guest"], "ifname": a.get("ifname", "eth0")} if result.changed else None


def _remove_attach(ww: Session, item: Item, undo: Undo) -> None:
    if isinstance(undo, dict):
        ww.detach(undo["guest"], undo["ifname"])


register(Kind(
    "attach",
    describe=lambda i: f"attach {i.arg('guest_name', i.arg('guest'))} {i.arg('ifname', 'eth0')} "
    f"{i.arg('ip') or 'dhcp'} to {i.arg('bridge')}" + (f" via {i.arg('gateway')}" if i.arg("gateway") else ""),
    apply=_apply_attach, remove=_remove_attach,
))


def _changed(result: Any) -> bool:
    return bool(getattr(result, "changed", True)) if not isinstance(result, dict) else bool(result.get("changed", True))


def _apply_uplink(ww: Session, item: Item, owner: str) -> Undo:
    result = ww.uplink(item.arg("bridge"), item.arg("nic"))
    return {"bridge": item.arg("bridge"), "nic": item.arg("nic")} if _changed(result) else None


def _remove_uplink(ww: Session, item: Item, undo: Undo) -> None:
    if isinstance(undo, dict):
        ww.uplink_undo(undo["bridge"], undo["nic"])


register(Kind("uplink", describe=lambda i: f"uplink {i.arg('nic')} onto bridge {i.arg('bridge')}",
              apply=_apply_uplink, remove=_remove_uplink, requires="uplink",
              provides=lambda i: [str(i.arg("bridge"))]))


def _apply_tunnel(ww: Session, item: Item, owner: str) -> Undo:
    options = {k: item.arg(k) for k in ("key", "name", "underlay_bridge") if item.arg(k) is not None}
    result = ww.tunnel_add(item.arg("bridge"), item.arg("remote"), type_=item.arg("type"), **options)
    return {"bridge": item.arg("bridge"), "remote": item.arg("remote")} if _changed(result) else None


def _remove_tunnel(ww: Session, item: Item, undo: Undo) -> None:
    if isinstance(undo, dict):
        ww.tunnel_rm(undo["bridge"], undo["remote"])


register(Kind("tunnel", describe=lambda i: f"{i.arg('type')} tunnel on {i.arg('bridge')} to {i.arg('remote')}",
              apply=_apply_tunnel, remove=_remove_tunnel, requires="tunnel_add", needs_ovs=True))


def _apply_network(ww: Session, item: Item, owner: str) -> Undo:
    options = {k: v for k, v in item.args.items() if k != "name"}
    result = ww.network_create(item.arg("name"), **options)
    return {"name": item.arg("name")} if _changed(result) else None


def _remove_network(ww: Session, item: Item, undo: Undo) -> None:
    if isinstance(undo, dict):
        ww.network_rm(undo["name"])


register(Kind("network", describe=lambda i: f"network {i.arg('name')} {i.arg('subnet', '')}".rstrip(),
              apply=_apply_network, remove=_remove_network, requires="network_create",
              provides=lambda i: [str(i.arg("bridge"))] if i.arg("bridge") else []))



# -- Linux VXLAN: a device on a bridge, static per-peer FDB entries (head-end replication) ---


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
    return _as_list(raw)


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

    spec = validate_vxlan(str(item.arg("name")), item.arg("vni"), str(item.arg("local")), _as_list(item.arg("peers")),
                          bridge=item.arg("bridge"), port=int(item.arg("port", VXLAN_PORT)), mtu=item.arg("mtu"),
                          dev=item.arg("dev"))
    return _run(ww, "lab-vxlan", owner, plan_vxlan(spec, probe_vxlan(ww.host, spec), owner))


def _describe_vxlan(item: Item) -> str:
    bridge = f" on bridge {item.arg('bridge')}" if item.arg("bridge") else ""
    peers = item.arg("peers")
    return (f"VXLAN {item.arg('name')} VNI {item.arg('vni')} local {item.arg('local')}{bridge}, peers "
            f"{peers if isinstance(peers, str) else ','.join(_as_list(peers)) or 'none'}")


register(Kind("vxlan", describe=_describe_vxlan, apply=_apply_vxlan, remove=_undo_steps,
              provides=lambda i: [str(i.arg("name"))] + ([str(i.arg("bridge"))] if i.arg("bridge") else []),
              check=_check_vxlan, resolve=_resolve_vxlan))

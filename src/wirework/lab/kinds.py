"""What a lab host's `setup:` can ask for: a registry of kinds, looked up by name.

Each kind turns one item into changes on one lab host through that host's own `Wirework`
session (`Wirework(netns=<host ns>, state_dir=<host state dir>)`), the same API and planned
steps as on a real machine. `apply` returns JSON-able undo data (None: nothing changed, the
item was already in place) and `remove` takes it back. Kinds whose API lives in another part
of wirework name the `Wirework` method they need (`requires`): a lab asking for a kind whose
method this build lacks is refused, with the line, before anything is created. The `Kind`
type and the helpers kinds share are in `lab.kind`; the VXLAN kind in `lab.kind_vxlan`.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from wirework.drivers.links import CreateBridge, LinkUp, SetMaster, SetMtu
from wirework.drivers.routes import AddAddress, AddRoute
from wirework.drivers.switch import OvsAddBridge
from wirework.errors import Conflict, InvalidInput, Unsupported
from wirework.lab.kind import Kind, Session, Undo, as_list, cli_line, run_steps, step_commands, undo_steps
from wirework.lab.kind_vxlan import VXLAN
from wirework.lab.model import Item
from wirework.model.host import RouteSpec
from wirework.naming import owner_of
from wirework.plan.steps import Step

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


def _ensure_bridge(ww: Session, name: str, owner: str, mtu: int | None) -> list[Step]:
    link = ww.host.net.link(name)
    if link is None:
        return [CreateBridge(name, owner, mtu)]
    if link.kind != "bridge":
        raise Conflict(f"{name} exists on this lab host as a {link.kind or 'device'}, not a bridge")
    if owner_of(link.alias) not in (owner, None):
        raise Conflict(f"bridge {name} belongs to {owner_of(link.alias)}, not {owner}")
    return [SetMtu(name, mtu)] if mtu else []


def _bridge_steps(item: Item, head: list[Step]) -> list[Step]:
    name = str(item.arg("name"))
    steps = list(head)
    for port in as_list(item.arg("ports")):
        steps += [SetMaster(port, name), LinkUp(port)]
    steps.append(LinkUp(name))
    return steps + [AddAddress(name, cidr) for cidr in as_list(item.arg("address"))]


def _apply_bridge(ww: Session, item: Item, owner: str) -> Undo:
    head = _ensure_bridge(ww, str(item.arg("name")), owner, item.arg("mtu"))
    return run_steps(ww, "lab-bridge", owner, _bridge_steps(item, head))


register(Kind(
    "bridge",
    describe=lambda i: f"Linux bridge {i.arg('name')} {' '.join(as_list(i.arg('address')))}".rstrip()
    + (f" ports {','.join(as_list(i.arg('ports')))}" if i.arg("ports") else ""),
    apply=_apply_bridge, remove=undo_steps,
    provides=lambda i: [str(i.arg("name"))], addresses=lambda i: as_list(i.arg("address")),
    commands=lambda i, owner: step_commands(_bridge_steps(i, [CreateBridge(str(i.arg("name")), owner, i.arg("mtu"))])),
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
    apply=lambda ww, i, owner: run_steps(ww, "lab-route", owner, [AddRoute(route_spec(i))]),
    remove=undo_steps, commands=lambda i, owner: step_commands([AddRoute(route_spec(i))]),
))


def _ovs_bridge_steps(item: Item, head: list[Step]) -> list[Step]:
    name = str(item.arg("name"))
    return [*head, LinkUp(name), *(AddAddress(name, cidr) for cidr in as_list(item.arg("address")))]


def _apply_ovs_bridge(ww: Session, item: Item, owner: str) -> Undo:
    name = str(item.arg("name"))
    if not ww.host.ovs.available():
        raise Unsupported(feature="Open vSwitch", why=f"the private OVS instance of {item.host} is not running")
    head: list[Step] = []
    if not ww.host.ovs.bridge_exists(name):
        head.append(OvsAddBridge(name, "system" if ww.host.ovs.kernel_datapath_available() else "netdev", owner))
    return run_steps(ww, "lab-ovs-bridge", owner, _ovs_bridge_steps(item, head))


register(Kind(
    "ovs_bridge", describe=lambda i: f"Open vSwitch bridge {i.arg('name')}",
    apply=_apply_ovs_bridge, remove=undo_steps, needs_ovs=True, provides=lambda i: [str(i.arg("name"))],
    # The userspace datapath: the kernel module is missing wherever wirework's labs run today.
    commands=lambda i, owner: step_commands(_ovs_bridge_steps(i, [OvsAddBridge(str(i.arg("name")), "netdev", owner)])),
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


def _attach_line(item: Item, owner: str) -> list[str]:
    a = item.args
    return [cli_line("attach", a["guest"], a["bridge"], i=a.get("ifname", "eth0"), ip=a.get("ip"),
                     gateway=a.get("gateway"), mac=a.get("mac"), vlan=a.get("vlan"), mtu=a.get("mtu"),
                     dhcp=bool(a.get("dhcp")))]


register(Kind(
    "attach",
    describe=lambda i: f"attach {i.arg('guest_name', i.arg('guest'))} {i.arg('ifname', 'eth0')} "
    f"{i.arg('ip') or 'dhcp'} to {i.arg('bridge')}" + (f" via {i.arg('gateway')}" if i.arg("gateway") else ""),
    apply=_apply_attach, remove=_remove_attach, commands=_attach_line,
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
              provides=lambda i: [str(i.arg("bridge"))],
              commands=lambda i, owner: [cli_line("uplink", i.arg("bridge"), i.arg("nic"), confirm_within="0")]))


def _apply_tunnel(ww: Session, item: Item, owner: str) -> Undo:
    options = {k: item.arg(k) for k in ("key", "name", "underlay_bridge") if item.arg(k) is not None}
    bridge, remote = item.arg("bridge"), item.arg("remote")
    there = any(t["bridge"] == bridge and t["remote"] == remote for t in ww.tunnel_ls())
    ww.tunnel_add(bridge, remote, type_=item.arg("type"), **options)
    return None if there else {"bridge": bridge, "remote": remote}


def _remove_tunnel(ww: Session, item: Item, undo: Undo) -> None:
    if isinstance(undo, dict):
        ww.tunnel_rm(undo["bridge"], undo["remote"])


register(Kind("tunnel", describe=lambda i: f"{i.arg('type')} tunnel on {i.arg('bridge')} to {i.arg('remote')}",
              apply=_apply_tunnel, remove=_remove_tunnel, requires="tunnel_add", needs_ovs=True,
              commands=lambda i, owner: [cli_line("tunnel", "add", i.arg("bridge"), type=i.arg("type"),
                                                  remote=i.arg("remote"), key=i.arg("key"), name=i.arg("name"),
                                                  underlay=i.arg("underlay_bridge"))]))


def _apply_network(ww: Session, item: Item, owner: str) -> Undo:
    options = {k: v for k, v in item.args.items() if k != "name"}
    result = ww.network_create(item.arg("name"), **options)
    return {"name": item.arg("name")} if _changed(result) else None


def _remove_network(ww: Session, item: Item, undo: Undo) -> None:
    if isinstance(undo, dict):
        ww.network_rm(undo["name"])


def _network_line(item: Item, owner: str) -> list[str]:
    flags = {k: v for k, v in item.args.items() if k != "name"}
    for key, negated in (("masquerade", "no_masquerade"), ("icc", "no_icc")):
        if key in flags:
            flags[negated] = not flags.pop(key)
    return [cli_line("network", "create", item.arg("name"), **flags)]


register(Kind("network", describe=lambda i: f"network {i.arg('name')} {i.arg('subnet', '')}".rstrip(),
              apply=_apply_network, remove=_remove_network, requires="network_create",
              provides=lambda i: [str(i.arg("bridge"))] if i.arg("bridge") else [], commands=_network_line))


register(VXLAN)

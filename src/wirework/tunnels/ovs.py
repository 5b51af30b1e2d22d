"""Open vSwitch tunnels (S10): a GRE/VXLAN/Geneve port to a peer, its underlay, and MTUs.

On the userspace (netdev) datapath a tunnel only works when the underlay address sits on an
OVS bridge that holds the NIC ("native tunnel routing failed" otherwise), so when the route to
the peer leaves through a plain kernel NIC, `add` first runs the uplink operation onto an OVS
bridge (`wirework.uplink`, the same plan and record as `wirework uplink --ovs`). Then one plan:
the tunnelled bridge (if missing; it stays), the MTU of every interface of the tunnelled network
lowered by the encapsulation overhead, and the tagged tunnel port. The tunnel's record keeps
its exact undo; `remove` runs it (the underlay stays: `wirework uplink --undo` removes it).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from wirework.attachments import records
from wirework.context import HostContext
from wirework.drivers.links import SetMtu
from wirework.drivers.switch import OvsAddBridge
from wirework.drivers.tunnel import OvsAddTunnelPort
from wirework.errors import InvalidInput, NotFound, Unsupported
from wirework.model.host import Host, RouteInfo
from wirework.model.tunnel import TUNNEL_TYPES
from wirework.plan.executor import run_best_effort
from wirework.plan.steps import Plan, Step, step_from_dict
from wirework.store.base import Delete, Op, Put
from wirework.uplink import state as uplink_state

PREFIX = "tunnel/"
_PORT_PREFIX = {"gre": "gre", "vxlan": "vxl", "geneve": "gnv"}
INNER_ETHERNET = 14
#: Outer IP + tunnel headers, IPv4 underlay: GRE 24 (28 with a key), VXLAN/Geneve 20+8+8.
HEADERS_V4 = {"gre": 24, "vxlan": 36, "geneve": 36}


def tunnel_overhead(type_: str, *, key: bool = False, ipv6: bool = False) -> int:
    """Bytes an OVS tunnel adds to a frame's IP packet: outer headers plus the inner Ethernet
    header (OVS tunnels carry Ethernet frames): GRE 38 (42 with key), VXLAN/Geneve 50, +20 on IPv6."""
    if type_ not in HEADERS_V4:
        raise InvalidInput(what="tunnel type", value=type_, why=f"use one of {', '.join(TUNNEL_TYPES)}")
    extra = 4 if key and type_ == "gre" else 0
    return HEADERS_V4[type_] + extra + INNER_ETHERNET + (20 if ipv6 else 0)


def tunnel_mtu(underlay_mtu: int, type_: str, *, key: bool = False, ipv6: bool = False) -> int:
    """The largest MTU inside the tunnel: 1500 underlay -> GRE 1462, VXLAN 1450."""
    mtu = underlay_mtu - tunnel_overhead(type_, key=key, ipv6=ipv6)
    if mtu < 576:
        raise InvalidInput(what="underlay MTU", value=str(underlay_mtu), why=f"leaves only {mtu} inside a {type_} tunnel")
    return mtu


@dataclass(frozen=True)
class TunnelSpec:
    bridge: str
    remote: str
    type_: str = "gre"
    key: int | None = None
    name: str = ""
    underlay_bridge: str = ""

    @property
    def port(self) -> str:
        return self.name or f"{_PORT_PREFIX[self.type_]}{int(ipaddress.ip_address(self.remote)):08x}"[:15]


def validate_tunnel(bridge: str, remote: str, *, type_: str = "gre", key: int | None = None, name: str | None = None,
                    underlay_bridge: str | None = None) -> TunnelSpec:
    if type_ not in TUNNEL_TYPES:
        raise InvalidInput(what="tunnel type", value=type_, why=f"use one of {', '.join(TUNNEL_TYPES)}")
    try:
        addr = ipaddress.ip_address(remote)
    except ValueError:
        raise InvalidInput(what="--remote", value=remote, why="not an IP address") from None
    if addr.version != 4 and name is None:
        raise InvalidInput(what="--remote", value=remote, why="name the port with --name for an IPv6 peer")
    if key is not None and not 0 <= key < 2**32:
        raise InvalidInput(what="--key", value=str(key), why="a tunnel key is 0 to 4294967295")
    for what, value in (("bridge", bridge), ("--name", name or ""), ("--underlay", underlay_bridge or "")):
        if len(value) > 15 or (what == "bridge" and not value):
            raise InvalidInput(what=what, value=value, why="an interface name has 1 to 15 characters")
    return TunnelSpec(bridge, remote, type_, key, name or "", underlay_bridge or "")


def route_dev(routes: list[RouteInfo], remote: str) -> str | None:
    """The device of the longest main-table route that covers `remote` (pure)."""
    ip = ipaddress.ip_address(remote)
    best: tuple[int, int, str] | None = None
    for r in routes:
        if r.table != 254 or not r.dev:
            continue
        net = ipaddress.ip_network("0.0.0.0/0" if r.dst == "default" and ip.version == 4 else
                                   "::/0" if r.dst == "default" else r.dst, strict=False)
        if ip.version == net.version and ip in net:
            rank = (net.prefixlen, -r.metric, r.dev)
            best = rank if best is None or rank[:2] > best[:2] else best
    return best[2] if best else None


def underlay_nic(host: Host, spec: TunnelSpec, datapath: str) -> str | None:
    """The kernel NIC to uplink onto an OVS bridge first, or None when the underlay is fine."""
    dev = route_dev(host.net.routes(), spec.remote)
    if dev is None:
        raise NotFound(what="route to tunnel peer", name=spec.remote, fix="give the host an address on the underlay")
    if datapath != "netdev" or host.ovs.bridge_exists(dev):
        return None
    link = host.net.link(dev)
    if link is not None and link.kind == "bridge":
        raise Unsupported(feature="a userspace OVS tunnel over a Linux bridge",
                          why=f"the route to {spec.remote} leaves through Linux bridge {dev}; the underlay address "
                              f"must sit on an OVS bridge holding the NIC (wirework uplink --ovs BRIDGE NIC)")
    return dev


def mtu_steps(ctx: HostContext, bridge: str, mtu: int) -> list[Step]:
    """Lower the MTU of every interface of the tunnelled network that is above `mtu`: the OVS
    bridge's own port, its kernel ports, a Linux bridge holding it, and wired guests' ends."""
    host = ctx.host
    names = [bridge] + [p for p in host.ovs.ports(bridge) if host.net.link(p) is not None]
    own = host.net.link(bridge)
    master = host.net.link_by_index(own.master) if own is not None and own.master else None
    if master is not None:
        names += [master.name] + [li.name for li in host.net.links() if li.master == master.index]
    steps: list[Step] = [SetMtu(n, mtu) for n in dict.fromkeys(names) if _above(host, n, None, mtu)]
    hosts_ifs = {bridge} | ({master.name} if master else set())
    for att in records.all_for_host(ctx.store, ctx.host_id):
        if att.host_if in hosts_ifs and _above(host, att.cont_ifname, att.guest.netns_path, mtu):
            steps.append(SetMtu(att.cont_ifname, mtu, att.guest.netns_path))
    return steps


def _above(host: Host, name: str, ns: str | None, mtu: int) -> bool:
    try:
        link = host.net.link(name, ns)
    except Exception:
        return False  # a guest namespace that went away
    return link is not None and link.mtu > mtu


def plan_tunnel(ctx: HostContext, spec: TunnelSpec, underlay: str | None, datapath: str, underlay_mtu: int) -> Plan:
    host = ctx.host
    owner = f"tunnel:{spec.bridge}:{spec.port}"
    steps: list[Step] = []
    lasting: tuple[int, ...] = ()
    if not host.ovs.bridge_exists(spec.bridge):
        steps.append(OvsAddBridge(spec.bridge, datapath, f"bridge:{spec.bridge}"))
        lasting = (0,)
    mtu = tunnel_mtu(underlay_mtu, spec.type_, key=spec.key is not None, ipv6=":" in spec.remote)
    steps += mtu_steps(ctx, spec.bridge, mtu) if not steps else [SetMtu(spec.bridge, mtu)]
    steps.append(OvsAddTunnelPort(spec.bridge, spec.port, spec.type_, spec.remote, owner, spec.key))
    note = f"MTU inside the tunnel: {mtu} (underlay {underlay_mtu} - {underlay_mtu - mtu} bytes of {spec.type_})"
    notes = (note,) + ((f"the underlay moves from {underlay} onto an OVS bridge first",) if underlay else ())
    return Plan("tunnel add", owner, tuple(steps), notes, lasting)


def add(ctx: HostContext, spec: TunnelSpec, *, dry_run: bool = False) -> Plan:
    ctx.before_change(dry_run)
    host = ctx.host
    if not host.ovs.available():
        raise Unsupported(feature="Open vSwitch", why="ovsdb-server is not running (apt-get install openvswitch-switch)")
    datapath = host.ovs.bridge_datapath(spec.bridge) if host.ovs.bridge_exists(spec.bridge) else _default_dp(host)
    nic = underlay_nic(host, spec, datapath)
    ul_bridge = spec.underlay_bridge or (f"ul-{nic}"[:15] if nic else "")
    ul_plan = Plan("uplink", "", ())
    if nic:
        ul_plan = uplink_state.uplink(ctx, ul_bridge, nic, ovs=True, dry_run=True).plan
    underlay_dev = ul_bridge if nic else route_dev(host.net.routes(), spec.remote) or ""
    underlay_link = host.net.link(nic or underlay_dev)
    plan = plan_tunnel(ctx, spec, nic, datapath, underlay_link.mtu if underlay_link else 1500)
    if dry_run:
        return ul_plan + plan if nic else plan
    if nic:
        uplink_state.uplink(ctx, ul_bridge, nic, ovs=True, check=None)
    try:
        _run(ctx, spec, plan)
    except Exception:
        if nic:
            uplink_state.undo(ctx, ul_bridge, nic)
        raise
    return ul_plan + plan if nic else plan


def _default_dp(host: Host) -> str:
    return "system" if host.ovs.kernel_datapath_available() else "netdev"


def _run(ctx: HostContext, spec: TunnelSpec, plan: Plan) -> None:
    key = f"{PREFIX}{ctx.host_id}/{spec.bridge}/{spec.port}"
    info = {"bridge": spec.bridge, "port": spec.port, "type": spec.type_, "remote": spec.remote, "key": spec.key,
            "mtu": next((s.mtu for s in plan.steps if isinstance(s, SetMtu) and s.name == spec.bridge), None)}

    old = ctx.store.get(key)
    kept = list(old.value.get("undo", [])) if old is not None else []

    def commit(undo: list[Step]) -> list[Op]:
        # A repeated add changes nothing or a little (an MTU): the undo of the first add stays.
        return [Put(key, {**info, "undo": [s.to_dict() for s in undo] + kept})]

    ctx.executor().run(plan, commit)


def remove(ctx: HostContext, bridge: str, remote_or_port: str, *, dry_run: bool = False) -> Plan:
    ctx.before_change(dry_run)
    match = [e for e in ctx.store.scan(f"{PREFIX}{ctx.host_id}/{bridge}/")
             if remote_or_port in (e.value.get("port"), e.value.get("remote"))]
    if not match:
        raise NotFound(what=f"tunnel on {bridge} to", name=remote_or_port,
                       fix=f"'wirework tunnel ls{' --netns ' + ctx.host.netns if ctx.host.netns else ''}' lists them")
    entry = match[0]
    steps = tuple(step_from_dict(s) for s in entry.value.get("undo", []))
    plan = Plan("tunnel rm", f"tunnel:{bridge}:{entry.value['port']}", steps)
    if not dry_run:
        errors = run_best_effort(ctx.host, steps)
        ctx.store.txn([], [Delete(entry.key)])
        if errors:
            raise Unsupported(feature="a clean tunnel removal", why="; ".join(errors))
    return plan


def listing(ctx: HostContext) -> list[dict[str, Any]]:
    out = []
    for entry in ctx.store.scan(f"{PREFIX}{ctx.host_id}/"):
        row = {k: v for k, v in entry.value.items() if k != "undo"}
        row["error"] = ctx.host.ovs.interface_error(row["port"]) if ctx.host.ovs.available() else None
        out.append(row)
    return out

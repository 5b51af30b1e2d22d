"""CNI CHECK: is what ADD made still there, as the records and the runtime's prevResult say?

Read-only. Checks, in order: the endpoint record, the namespace, the container interface
(present, up, its MAC), its addresses (ours and every one `prevResult` lists for it), the
default route when ADD gave one, the host end on its bridge, the bridge, the network's
firewall rules, each published port, and the IPAM lease. The first difference is raised as
`Drifted`, naming the object and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence

from wirework.attachments import records
from wirework.context import HostContext
from wirework.errors import Drifted, NamespaceGone, NotFound
from wirework.firewall import render
from wirework.firewall.model import PortMapping
from wirework.firewall.state import bridges_by_network
from wirework.ipam import Ipam
from wirework.kernel.netns import netns_id
from wirework.model.guest import cni_key
from wirework.networks import endpoints
from wirework.networks import network as nets
from wirework.networks.endpoints import Endpoint
from wirework.networks.network import Network

_FIX = "DEL and ADD the container again"


def check(ctx: HostContext, network: str, container_id: str, ifname: str, netns: str,
          expected_ips: Sequence[str] = (), expected_mac: str | None = None) -> None:
    short = container_id[:12]
    net = nets.load(ctx.store, ctx.host_id, network)
    ep = endpoints.load(ctx.store, ctx.host_id, network, cni_key(container_id, ifname)) if net else None
    if net is None or ep is None:
        raise _drift(short, f"attachment {ifname} on network {network}", "unknown to wirework", "ADD it first")
    _check_namespace(ep, netns, short)
    _check_container_side(ctx, ep, expected_ips, expected_mac, net, short)
    _check_host_side(ctx, ep, net, short)
    _check_firewall(ctx, ep, net, short)
    lease = Ipam(ctx.store, ctx.host_id).lease_of(network, ep.guest.key)
    if lease is None or lease.ip != ep.address:
        raise _drift(short, f"IPAM lease of {ep.address} on network {network}", "missing")


def _drift(container: str, what: str, state: str, detail: str = _FIX) -> Drifted:
    return Drifted(what=what, container=container, state=state, detail=detail)


def _check_namespace(ep: Endpoint, netns: str, short: str) -> None:
    if netns != ep.guest.netns_path:
        raise _drift(short, "network namespace", "not the one ADD used",
                      f"ADD used {ep.guest.netns_path}, CHECK names {netns}")
    try:
        now = netns_id(netns)
    except (NamespaceGone, NotFound):
        raise _drift(short, f"network namespace {netns}", "gone") from None
    if now != ep.guest.netns_id:
        raise _drift(short, f"network namespace {netns}", "a different one than at ADD")


def _check_container_side(ctx: HostContext, ep: Endpoint, expected_ips: Sequence[str], expected_mac: str | None,
                          net: Network, short: str) -> None:
    ns, ifname = ep.guest.netns_path, ep.ifname
    link = ctx.host.net.link(ifname, ns)
    if link is None:
        raise _drift(short, f"interface {ifname}", "missing")
    att = records.load(ctx.store, ctx.host_id, ep.att_id)
    mac = expected_mac or (att.mac if att is not None else None)  # prevResult wins: a later plugin may set it
    if mac and link.mac.lower() != mac.lower():
        raise _drift(short, f"MAC address of {ifname}", f"{link.mac}, not {mac}")
    if not link.up:
        raise _drift(short, f"interface {ifname}", "down", f"ip -n NS link set {ifname} up, or {_FIX}")
    have = {a.cidr for a in ctx.host.net.addresses(ns, ifname)}
    for cidr in (ep.ip, *expected_ips):
        if cidr not in have:
            raise _drift(short, f"address {cidr} on {ifname}", "missing")
    if ep.default_route and not any(r.dst == "default" and r.gateway == net.gateway and r.dev == ifname
                                    for r in ctx.host.net.routes(ns, table=254)):
        raise _drift(short, f"default route via {net.gateway} on {ifname}", "missing")


def _check_host_side(ctx: HostContext, ep: Endpoint, net: Network, short: str) -> None:
    bridge = ctx.host.net.link(net.bridge)
    if bridge is None or not bridge.up:
        raise _drift(short, f"bridge {net.bridge} of network {net.name}", "missing" if bridge is None else "down",
                      "run 'wirework up' to rebuild the network")
    att = records.load(ctx.store, ctx.host_id, ep.att_id)
    if att is None:
        raise _drift(short, f"record of {ep.ifname}", "missing")
    veth = ctx.host.net.link(att.host_ifname)
    if veth is None:
        raise _drift(short, f"host interface {att.host_ifname}", "missing")
    if veth.master != bridge.index:
        raise _drift(short, f"host interface {att.host_ifname}", f"not on bridge {net.bridge}")


def _check_firewall(ctx: HostContext, ep: Endpoint, net: Network, short: str) -> None:
    if bridges_by_network(ctx.host).get(net.name) != net.bridge:
        raise _drift(short, f"firewall rules of network {net.name}", "missing", "run 'wirework up' to restore them")
    for port in ep.ports:
        m = PortMapping(**port)
        held = ctx.host.nft.get_element("inet", "wirework", render.port_maps(m)[0], render.port_key_text(m))
        if held is None or held[0] != m.guest_ip:
            raise _drift(short, f"published port {m.text()}", "missing", "run 'wirework up' to restore it")

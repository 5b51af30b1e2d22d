"""Docker's endpoints on a wirework network: CreateEndpoint, Join, Leave, DeleteEndpoint, ports.

Docker's model differs from wirework's attach: at Join the driver makes both ends of a veth
in the host namespace (the host end `wwv<id>` born enslaved to the network's bridge and up, the
other end `wwd<id>` with the endpoint's MAC) and answers the other end's name; Docker moves it
into the sandbox, names it ethN and sets the address, routes and gateway itself. The veth is one
planned step with its inverse (delete the tagged host end: both ends go), recorded as an
attachment made by Docker whose guest is the endpoint (`docker-ep:<id>`), next to the endpoint
record that holds its address (leased by `pools`), MAC and published ports. Docker moves the
interface back out before DeleteEndpoint, which removes it; Leave has nothing to undo.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from typing import Any

from wirework.attachments import ops as attachments
from wirework.attachments import records
from wirework.attachments.records import Attachment
from wirework.context import HostContext
from wirework.drivers.links import CreateVeth
from wirework.errors import Conflict, InvalidInput, NotFound
from wirework.ipam import Ipam
from wirework.model.guest import Guest
from wirework.model.specs import AttachSpec
from wirework.naming import attachment_id, docker_peer_name, guest_mac, host_veth_name
from wirework.networks import connops, endpoints
from wirework.networks.docker import model, nets, pools, ports
from wirework.networks.endpoints import Endpoint
from wirework.networks.network import Network
from wirework.plan.steps import Plan, Step
from wirework.store.base import Op

EP_KIND = "docker-ep"
EP_KEY = "docker-ep:"
DST_PREFIX = "eth"


@dataclass(frozen=True)
class JoinAnswer:
    src_name: str
    gateway: str | None


def endpoint_guest(endpoint_id: str, network: Network, sandbox: str = "") -> Guest:
    return Guest(EP_KIND, endpoint_id, f"endpoint {endpoint_id[:12]}", f"{EP_KEY}{endpoint_id}", sandbox, "",
                 mode=network.display_name)


def att_id_of(endpoint_id: str) -> str:
    return attachment_id(f"{EP_KEY}{endpoint_id}", "docker")


def load(ctx: HostContext, net: Network, endpoint_id: str) -> Endpoint | None:
    return endpoints.load(ctx.store, ctx.host_id, net.name, f"{EP_KEY}{endpoint_id}")


def require(ctx: HostContext, net: Network, endpoint_id: str) -> Endpoint:
    ep = load(ctx, net, endpoint_id)
    if ep is None:
        raise NotFound(what="endpoint", name=endpoint_id[:12], fix="Docker never created it through wirework")
    return ep


def create_endpoint(ctx: HostContext, network_id: str, endpoint_id: str, address: str, mac: str,
                    options: dict[str, Any]) -> str | None:
    """Record the endpoint with the address IPAM gave it; the MAC to answer when Docker gave none."""
    ctx.before_change()
    net = nets.require(ctx, network_id)
    model.port_bindings(options)  # refuse what cannot be published before anything happens
    if not address:
        raise InvalidInput(what="endpoint address", value="", why="use wirework's IPAM driver (--ipam-driver)")
    ip = model.ip_of(address)
    existing = load(ctx, net, endpoint_id)
    if existing is not None:
        return None if mac else existing.mac  # Docker asking again
    given_mac = mac.lower()
    mac = given_mac or guest_mac(att_id_of(endpoint_id))
    owner = _lease_owner(ctx, net, ip, mac)
    ep = Endpoint(network=net.name, host=ctx.host_id, guest=endpoint_guest(endpoint_id, net),
                  att_id=att_id_of(endpoint_id), ifname="", ip=f"{ip}/{net.addresses().prefixlen}",
                  static=False, made_by="docker", lease_owner=owner, mac=mac, mode=net.display_name)
    ctx.store.txn([], [endpoints.put_op(ep)])
    return None if given_mac else mac


def _lease_owner(ctx: HostContext, net: Network, ip: str, mac: str) -> str:
    """Who holds the address: the lease IPAM made for this endpoint; made now when it went
    missing meanwhile (`wirework up` swept it while the plugin was away)."""
    ipam = Ipam(ctx.store, ctx.host_id)
    lease = ipam.lease_at(net.name, ip)
    if lease is not None and lease.owner.startswith(pools.LEASE_PREFIX):
        return lease.owner
    if lease is not None:
        raise Conflict(f"address {ip} on network {net.display_name} is held by {lease.owner}; pick another --ip")
    owner = pools.lease_owner(ctx, net, mac)
    ipam.allocate(net.addresses(), owner, ip, in_range_ok=True)
    return owner


def join(ctx: HostContext, network_id: str, endpoint_id: str, sandbox: str) -> JoinAnswer:
    """Make the veth in the host (one step with its inverse) and say which end Docker moves."""
    ctx.before_change()  # first, so that a Join a crash cut short is undone before it is looked at
    net = nets.require(ctx, network_id)
    ep = require(ctx, net, endpoint_id)
    nets.ensure_built(ctx, net)  # after a reboot Docker may start containers before `wirework up`
    answer = JoinAnswer(docker_peer_name(ep.att_id), None if net.internal else net.gateway)
    att = records.load(ctx.store, ctx.host_id, ep.att_id)
    if att is not None:
        if ctx.host.net.link(att.host_ifname) is not None:
            return answer  # Docker asking again: the veth is there
        attachments.teardown(ctx, att, None)
    nonce = secrets.token_hex(3)
    owner = f"att:{ep.att_id}.{nonce}"
    step = CreateVeth(host_veth_name(ep.att_id), answer.src_name, None, owner, net.mtu, ep.mac, net.bridge, True)
    plan = Plan("docker-join", owner, (step,))
    guest = replace(ep.guest, netns_path=sandbox)

    def commit(undo: list[Step]) -> list[Op]:
        att = _record(ctx, net, ep, guest, undo, nonce)
        return [*attachments.record_ops(ctx, att), endpoints.put_op(replace(ep, guest=guest))]

    ctx.executor().run(plan, commit)
    return answer


def _record(ctx: HostContext, net: Network, ep: Endpoint, guest: Guest, undo: list[Step], nonce: str) -> Attachment:
    peer = docker_peer_name(ep.att_id)
    spec = AttachSpec(guest=guest.key, host_if=net.bridge, cont_ifname=peer, cidr=ep.ip, mac=ep.mac, mtu=net.mtu,
                      create="never")
    return Attachment(id=ep.att_id, host=ctx.host_id, guest=guest, spec=spec, host_if=net.bridge, host_kind="bridge",
                      host_ifname=host_veth_name(ep.att_id), cont_ifname=peer, cidr=ep.ip,
                      gateway=None if net.internal else net.gateway, mac=ep.mac,
                      undo=tuple(s.to_dict() for s in undo), nonce=nonce, made_by="docker")


def delete_endpoint(ctx: HostContext, network_id: str, endpoint_id: str) -> None:
    """Ports, then the veth (Docker moved it back out), then the records; the lease stays for
    ReleaseAddress. Unknown endpoints are fine (Docker retrying)."""
    ctx.before_change()
    net = nets.by_docker_id(ctx, network_id)
    ep = load(ctx, net, endpoint_id) if net is not None else None
    if ep is not None:
        connops.drop_endpoint(ctx, ep, release=False)


def program_external(ctx: HostContext, network_id: str, endpoint_id: str, options: dict[str, Any]) -> list[str]:
    """Publish the endpoint's `-p` ports (a host port of 0 or a range: the first free one)."""
    net = nets.require(ctx, network_id)
    return ports.publish(ctx, net, require(ctx, net, endpoint_id), model.port_bindings(options))


def revoke_external(ctx: HostContext, network_id: str, endpoint_id: str) -> None:
    net = nets.by_docker_id(ctx, network_id)
    ep = load(ctx, net, endpoint_id) if net is not None else None
    if ep is not None:
        ports.unpublish(ctx, ep)


def endpoint_info(ctx: HostContext, network_id: str, endpoint_id: str) -> dict[str, Any]:
    net = nets.by_docker_id(ctx, network_id)
    ep = load(ctx, net, endpoint_id) if net is not None else None
    if ep is None:
        return {}
    att = records.load(ctx.store, ctx.host_id, ep.att_id)
    return {"wirework.network": ep.network, "wirework.host_end": att.host_ifname if att else "",
            "wirework.ports": [connops.mappings(ep)[i].text() for i in range(len(ep.ports))]}


def announcement(ctx: HostContext, network_id: str, container_id: str) -> tuple[str, str] | None:
    """(address, sandbox) to announce once Docker has connected a container to one of
    wirework's networks (its `connect` event), None for other networks. Docker gives the
    container a new random MAC each time it joins: peers that cached the old one (a restart, a
    disconnect and connect with the same --ip) would not reach it until their entry ages out."""
    if nets.by_docker_id(ctx, network_id) is None:
        return None
    info = ctx.docker.inspect(container_id) or {}
    settings = info.get("NetworkSettings") or {}
    sandbox = str(settings.get("SandboxKey") or "")
    for attached in (settings.get("Networks") or {}).values():
        if attached.get("NetworkID") == network_id and attached.get("IPAddress") and sandbox:
            return str(attached["IPAddress"]), sandbox
    return None

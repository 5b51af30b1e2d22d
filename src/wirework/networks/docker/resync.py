"""What Docker forgot to tell the plugin: reconcile wirework's Docker records with Docker's view.

Docker gives up on a plugin call after ~15 s of retries, so a plugin that was down while
containers stopped, or a dockerd that died between two calls, leaves records Docker no longer
knows: endpoints (with their veth and ports), leases, pools, whole networks. `resync` removes
them and learns the names Docker users know networks and containers by. Only what is older
than `grace` seconds is removed: a request in flight right now is not mistaken for a leftover.
Docker is asked first (`view`, Docker API reads only), then the store and host are changed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from wirework.attachments import records
from wirework.context import HostContext
from wirework.errors import ServiceError
from wirework.guests.docker import DockerClient
from wirework.ipam import Ipam
from wirework.networks import connops, endpoints, netops
from wirework.networks.docker import bindings, nets, pools
from wirework.networks.docker.joins import EP_KEY
from wirework.networks.endpoints import Endpoint
from wirework.networks.network import Network
from wirework.networks.subnets import reservations as res
from wirework.store.base import Compare

GRACE = 30.0


@dataclass(frozen=True)
class DockerView:
    """Docker's answer for each network id: its inspect document, or None when Docker has none."""

    networks: dict[str, dict[str, Any] | None]


def view(docker: DockerClient, network_ids: list[str]) -> DockerView | None:
    """Ask Docker about each network (None when Docker does not answer: decide nothing)."""
    out: dict[str, dict[str, Any] | None] = {}
    try:
        for nid in network_ids:
            status, data = docker.request("GET", f"/networks/{nid}")
            if status == 404:
                out[nid] = None
            elif status == 200 and isinstance(data, dict):
                out[nid] = data
            else:
                return None
    except ServiceError:
        return None
    return DockerView(out)


def resync(ctx: HostContext, docker_view: DockerView, *, grace: float = GRACE) -> list[str]:
    ctx.before_change()
    now = time.time()
    out: list[str] = []
    for net in nets.docker_networks(ctx):
        if net.docker_id not in docker_view.networks:
            continue  # not asked about (a network made since)
        info = docker_view.networks[net.docker_id]
        if info is None:
            if net.created < now - grace:
                out += _drop_network(ctx, net)
            continue
        if info.get("Name"):
            nets.set_docker_name(ctx, net.docker_id, str(info["Name"]))
        out += _endpoints(ctx, net, info, now - grace)
    out += _bound(ctx, docker_view, now - grace)
    out += _pools(ctx, now - grace)
    return out


def _bound(ctx: HostContext, docker_view: DockerView, before: float) -> list[str]:
    """Docker networks bound to cluster networks: forgotten ones unbound (the cluster network
    stays), names learned, endpoints and leases Docker forgot removed."""
    out: list[str] = []
    for binding in bindings.all_bindings(ctx):
        if binding.docker_id not in docker_view.networks:
            continue
        info = docker_view.networks[binding.docker_id]
        if info is None:
            if binding.created < before:
                nets.delete_network(ctx, binding.docker_id)
                out.append(f"network {binding.docker_name or binding.docker_id[:12]}: Docker no longer has it, "
                           f"unbound from cluster network {binding.cluster or '-'}")
            continue
        if info.get("Name"):
            nets.set_docker_name(ctx, binding.docker_id, str(info["Name"]))
        net = bindings.materialised(ctx, binding)
        if net is not None:
            out += _endpoints(ctx, net, info, before)
    return out


def _drop_network(ctx: HostContext, net: Network) -> list[str]:
    netops.remove(ctx, net.name, force=True, docker=True, detach=lambda ep: connops.drop_endpoint(ctx, ep))
    return [f"network {net.display_name}: Docker no longer has it, removed"]


def _endpoints(ctx: HostContext, net: Network, info: dict[str, Any], before: float) -> list[str]:
    out = []
    known = {str(c.get("EndpointID")): (key, c) for key, c in (info.get("Containers") or {}).items()}
    held = {str(c.get("IPv4Address", "")).split("/")[0] for _, c in known.values()}
    eps = [ep for ep in endpoints.on_network(ctx.store, ctx.host_id, net.name) if ep.made_by == "docker"]
    for ep in eps:
        eid = ep.guest.key[len(EP_KEY):]
        if eid in known:
            container, c = known[eid]
            if not container.startswith("ep-"):
                name_as_container(ctx, ep, container, str(c.get("Name") or container[:12]))
        elif ep.created < before:
            connops.drop_endpoint(ctx, ep)
            out.append(f"{ep.guest.name} on {net.display_name}: Docker no longer has it, removed and released {ep.ip}")
    owners = {ep.lease_owner for ep in endpoints.on_network(ctx.store, ctx.host_id, net.name)}
    ipam = Ipam(ctx.store, ctx.host_id)
    for lease in ipam.leases(net.name):
        if lease.owner.startswith(pools.LEASE_PREFIX) and lease.owner not in owners and lease.ip not in held \
                and lease.created < before:
            ipam.release(net.name, lease.owner)
            out.append(f"lease {lease.ip} on {net.display_name}: no endpoint holds it, released")
    return out


def name_as_container(ctx: HostContext, ep: Endpoint, container_id: str, name: str) -> None:
    """Say which container an endpoint belongs to (on its endpoint and attachment records)."""
    if ep.guest.ref == container_id and ep.guest.name == name:
        return
    guest = replace(ep.guest, ref=container_id, name=name)
    entry = ctx.store.get(ep.key)
    if entry is not None:
        ctx.store.txn([Compare(entry.key, entry.revision)], [endpoints.put_op(replace(ep, guest=guest))])
    att = records.load(ctx.store, ctx.host_id, ep.att_id)
    entry = ctx.store.get(records.att_key(ctx.host_id, ep.att_id))
    if att is not None and entry is not None:
        ctx.store.txn([Compare(entry.key, entry.revision)], [records.put_op(replace(att, guest=guest))])


def _pools(ctx: HostContext, before: float) -> list[str]:
    out = []
    for r in res.all_reservations(ctx.store, ctx.host_id):
        if r.holder == pools.HOLDER and r.created < before:  # a network is made in well under a second
            res.release(ctx.store, ctx.host_id, r.subnet)
            out.append(f"pool {r.subnet}: no network was made from it, released")
    return out

"""Docker's networks on wirework: CreateNetwork and DeleteNetwork, and finding them again.

Docker never tells a driver the network's name, only its id: the wirework network is named
`docker-<id:12>` on a bridge `ww-<id:12>` (Docker's own are `br-<id:12>`), and the name
Docker users know is learned from Docker's events or a resync (`docker_name`); wirework
commands accept either. A repeated CreateNetwork (Docker retrying) finds the network by its
Docker id and completes what is missing. A Docker network bound to a cluster network
(`bindings`) is found here as the network this host's agent materialised.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from typing import Any

from wirework.context import HostContext
from wirework.errors import InvalidInput, Unsupported
from wirework.ipam import Ipam
from wirework.networks import connops, endpoints, netops
from wirework.networks import network as nets
from wirework.networks.docker import bindings, model, pools
from wirework.networks.netplan import plan_network, probe_network
from wirework.networks.network import Network, validate_network
from wirework.store.base import Compare

NAME_PREFIX = "docker-"
AUX_OWNER = "docker-aux:"


def wirework_name(network_id: str) -> str:
    return f"{NAME_PREFIX}{network_id[:12]}"


def by_docker_id(ctx: HostContext, network_id: str) -> Network | None:
    net = nets.load(ctx.store, ctx.host_id, wirework_name(network_id))
    if net is not None and net.docker_id == network_id:
        return net
    return bindings.by_docker_id(ctx, network_id)


def require(ctx: HostContext, network_id: str) -> Network:
    net = by_docker_id(ctx, network_id)
    binding = bindings.load(ctx, network_id) if net is None else None
    if binding is not None:
        raise bindings.unusable(binding)
    if net is None:
        raise InvalidInput(what="network", value=network_id[:12], why=(
            "wirework has no record of it (made while another state directory was in use?); "
            "remove it with 'docker network rm' and create it again"))
    return net


def docker_networks(ctx: HostContext) -> list[Network]:
    return [n for n in nets.all_networks(ctx.store, ctx.host_id) if n.made_by == "docker"]


def create_network(ctx: HostContext, network_id: str, options: dict[str, Any], ipv4: list[dict[str, Any]],
                   ipv6: list[dict[str, Any]], *, no_sysctl: bool = False) -> Network:
    opts = model.parse_network_options(options)
    if ipv6:
        raise Unsupported(feature="IPv6", why="wirework networks are IPv4 only for now; drop --ipv6")
    if len(ipv4) != 1:
        raise InvalidInput(what="subnets", value=str(len(ipv4)), why="a wirework network has exactly one IPv4 subnet")
    if opts.is_cluster:  # the facade sends them to cluster.dockernets when the service has a shared store
        raise Unsupported(feature=f"-o wirework.driver={opts.driver}", why=(
            "a cluster network needs the store the hosts share: start the service with it "
            "('wirework service start --store etcd://HOST:2379'), or leave the option out (a bridge network)"))
    existing = by_docker_id(ctx, network_id)
    if existing is not None:
        _complete(ctx, existing, no_sysctl=no_sysctl)  # Docker asking again: finish what is missing
        return existing
    name = wirework_name(network_id)
    data = ipv4[0]
    subnet = str(ipaddress.ip_network(str(data.get("Pool", "")), strict=False))
    gateway = model.ip_of(str(data.get("Gateway") or ""), "gateway") if data.get("Gateway") else None
    reservation = pools.bind(ctx, subnet, name)
    spec = validate_network(name, subnet=subnet, gateway=gateway, ip_range=reservation.data.get("sub_pool"),
                            bridge=opts.bridge or f"ww-{network_id[:12]}", internal=opts.internal,
                            masquerade=opts.masquerade, icc=opts.icc, mtu=opts.mtu)
    try:
        net = netops.create(ctx, spec, force=True, no_sysctl=no_sysctl,
                            origin={"made_by": "docker", "docker_id": network_id}).network
    except BaseException:
        pools.unbind(ctx, subnet, name)  # Docker releases the pool next; nothing is left bound
        raise
    ipam = Ipam(ctx.store, ctx.host_id)
    for ip in reservation.data.get("aux", []):
        ipam.allocate(net.addresses(), f"{AUX_OWNER}{ip}", ip, in_range_ok=True)
    pools.settled(ctx, subnet)
    return net


def _complete(ctx: HostContext, net: Network, *, no_sysctl: bool = False) -> None:
    plan = plan_network(net, probe_network(ctx.host, net), no_sysctl=no_sysctl)
    if plan.steps:
        ctx.executor().run(plan)


def ensure_built(ctx: HostContext, net: Network) -> None:
    """The network's bridge (and with it its address and rules) when it is missing or down."""
    if net.driver:
        return  # a cluster network: its agent builds it
    link = ctx.host.net.link(net.bridge)
    if link is None or not link.up:
        _complete(ctx, net)


def delete_network(ctx: HostContext, network_id: str) -> Network | None:
    """Remove the network (Docker removes its endpoints first; any left are dropped too). A
    cluster network stays: only this Docker network's binding and endpoints go."""
    if bindings.load(ctx, network_id) is not None:
        return _unbind(ctx, network_id)
    net = by_docker_id(ctx, network_id)
    if net is None:
        return None  # already removed: Docker retrying, or never made
    netops.remove(ctx, net.name, force=True, docker=True, detach=lambda ep: connops.drop_endpoint(ctx, ep))
    return net


def _unbind(ctx: HostContext, network_id: str) -> Network | None:
    binding = bindings.load(ctx, network_id)
    net = bindings.materialised(ctx, binding) if binding is not None else None
    if net is not None:
        for ep in endpoints.on_network(ctx.store, ctx.host_id, net.name):
            if ep.made_by == "docker":
                connops.drop_endpoint(ctx, ep)
    bindings.delete(ctx, network_id)
    return net


def set_docker_name(ctx: HostContext, network_id: str, name: str) -> bool:
    """Remember the name Docker users know the network by (from an event or a resync)."""
    binding = bindings.load(ctx, network_id)
    if binding is not None:
        return binding.docker_name != name and bindings.update(ctx, network_id, docker_name=name) is not None
    net = by_docker_id(ctx, network_id)
    if net is None or net.docker_name == name:
        return False
    entry = ctx.store.get(nets.net_key(ctx.host_id, net.name))
    if entry is None:
        return False
    return ctx.store.txn([Compare(entry.key, entry.revision)], [nets.put_op(replace(net, docker_name=name))])

"""The IPAM driver: Docker's pools are reserved subnets, its addresses are wirework leases.

A pool is a `networks.subnets.reservations` entry from RequestPool (an explicit `--subnet`,
checked against everything the host uses, or one wirework's planner picks) until CreateNetwork
makes the network; from then on the network's record is the pool (pool ids are `wirework:<subnet>`)
and the reservation is dropped (Docker 20.10 releases the pool before it deletes the network).
The gateway and `--aux-address`es are asked for before the network exists: they live in the
reservation. Container addresses are leases of the network's
`wirework.ipam`, held by `docker-mac:<MAC>` (Docker sends the endpoint's MAC because the driver
requires it), which makes a retried RequestAddress return the same address and gives a
container with a fixed `--mac-address` its address back after a restart.

A cluster network's pool is the whole cluster subnet (`--subnet 10.244.0.0/16`), but each host
hands out addresses of its own share only (the agent's lease, `10.244.7.0/24`): a container's
address comes back with that share's prefix length, so that the rest of the cluster is reached
through the host's gateway (Join names it) and the data plane. RequestPool cannot tell a
cluster network from a bridge one (Docker passes the -o options to CreateNetwork only), so a
subnet that is a known cluster network's is not checked against the host's routes (its own
share and peers' routes are there); CreateNetwork decides.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from wirework.context import HostContext
from wirework.errors import Conflict, InvalidInput, NotFound, Unsupported
from wirework.ipam import Ipam
from wirework.networks import endpoints
from wirework.networks import network as nets
from wirework.networks.docker import bindings, model
from wirework.networks.netops import pools_from
from wirework.networks.network import Network
from wirework.networks.subnets import reservations as res
from wirework.networks.subnets.occupancy import probe_occupied
from wirework.networks.subnets.pools import check_subnet, gateway_for, parse_pools, pick_subnet
from wirework.networks.subnets.reservations import Reservation

POOL_PREFIX = "wirework:"
HOLDER = "Docker IPAM"
LEASE_PREFIX = "docker-mac:"


def pool_id(subnet: str) -> str:
    return f"{POOL_PREFIX}{subnet}"


def subnet_of(pid: str) -> str:
    if not pid.startswith(POOL_PREFIX):
        raise NotFound(what="address pool", name=pid, fix="it was not made by wirework's IPAM driver")
    return pid[len(POOL_PREFIX):]


def load_pool(ctx: HostContext, pid: str) -> tuple[Reservation, int]:
    found = res.load(ctx.store, ctx.host_id, subnet_of(pid))
    if found is None:
        raise NotFound(what="address pool", name=pid, fix="it was released; create the network again")
    return found


def request_pool(ctx: HostContext, pool: str, sub_pool: str, options: dict[str, Any] | None, v6: bool,
                 *, pools: str | None = None) -> str:
    """Reserve `pool` (checked) or a free subnet; the pool id. Idempotent for a pending pool."""
    ctx.before_change()
    if v6:
        raise Unsupported(feature="IPv6", why="wirework networks are IPv4 only for now; drop --ipv6")
    force = model.parse_ipam_options(options)
    subnet, rng = model.parse_pool(pool, sub_pool)
    if subnet is not None:
        found = res.load(ctx.store, ctx.host_id, subnet)
        if found is not None and not found[0].network and found[0].data.get("sub_pool") == rng:
            return pool_id(subnet)  # Docker asking again (a retry): the same pool
        if subnet not in bindings.cluster_cidrs(ctx):
            occupied = probe_occupied(ctx.host, ctx.store, ctx.host_id, ctx.docker)
            check_subnet(ipaddress.ip_network(subnet), occupied, force, force_hint="add --ipam-opt wirework.force=true")
        data: dict[str, Any] = {"sub_pool": rng}
    else:
        subnet = pick_subnet(parse_pools(pools_from(pools)), probe_occupied(ctx.host, ctx.store, ctx.host_id,
                                                                           ctx.docker)).subnet
        data = {"sub_pool": rng, "picked": True}
    if not res.reserve(ctx.store, ctx.host_id, Reservation(subnet, HOLDER, data=data)):
        raise Conflict(f"subnet {subnet} was just reserved for another network; choose another --subnet")
    return pool_id(subnet)


def release_pool(ctx: HostContext, pid: str) -> None:
    """Forget a pool that is still only a reservation (a network's own goes with the network)."""
    found = res.load(ctx.store, ctx.host_id, subnet_of(pid))
    if found is None:
        return
    bound = found[0].network
    if bound and network_of(ctx, found[0].subnet) is None and nets.load(ctx.store, ctx.host_id, bound) is not None:
        return  # that network is being made right now
    res.release(ctx.store, ctx.host_id, found[0].subnet)


def network_of(ctx: HostContext, subnet: str) -> Network | None:
    """The network Docker made from this pool (its record is the pool once it exists), or the
    cluster network a Docker network on this pool is bound to, once built here."""
    found = next((n for n in nets.all_networks(ctx.store, ctx.host_id) if n.made_by == "docker" and n.subnet == subnet),
                 None)
    return found or bindings.network_of_pool(ctx, subnet)


def request_address(ctx: HostContext, pid: str, address: str, options: dict[str, Any] | None) -> str:
    """The gateway (before the network exists), an aux address, or a container's lease; as CIDR."""
    ctx.before_change()
    options = options or {}
    net = network_of(ctx, subnet_of(pid))
    if net is None and options.get(model.ADDRESS_TYPE) != model.GATEWAY_TYPE:
        binding = bindings.by_subnet(ctx, subnet_of(pid))
        if binding is not None:  # a cluster network this host's agent may be building right now
            net = bindings.wait_materialised(ctx, binding)
    if net is not None and options.get(model.ADDRESS_TYPE) != model.GATEWAY_TYPE:
        return _lease(ctx, net, address, options)
    reservation, revision = load_pool(ctx, pid)
    subnet = ipaddress.ip_network(reservation.subnet)
    if options.get(model.ADDRESS_TYPE) == model.GATEWAY_TYPE:
        gateway = gateway_for(subnet, address or None)
        res.update(ctx.store, ctx.host_id, reservation, revision, data={**reservation.data, "gateway": gateway})
        return f"{gateway}/{subnet.prefixlen}"
    return _aux_address(ctx, reservation, revision, address)


def _lease(ctx: HostContext, net: Network, address: str, options: dict[str, Any]) -> str:
    if net.driver and address:
        check_in_share(net, model.ip_of(address))
    owner = lease_owner(ctx, net, str(options.get(model.MAC_OPTION) or ""))
    lease = Ipam(ctx.store, ctx.host_id).allocate(net.addresses(), owner, address or None, in_range_ok=True)
    return f"{lease.ip}/{net.addresses().prefixlen}"


def check_in_share(net: Network, ip: str) -> None:
    """`--ip` on a cluster network: only this host's share of it is handed out here."""
    if ipaddress.ip_address(ip) not in ipaddress.ip_network(net.subnet):
        raise InvalidInput(what="address", value=ip, why=(
            f"it is outside {net.subnet}, this host's share of cluster network {net.name} ({net.cluster_cidr}); the "
            f"other hosts hand out the rest: pick an address in {net.subnet} or leave --ip out"))


def _aux_address(ctx: HostContext, reservation: Reservation, revision: int, address: str) -> str:
    """`--aux-address`: before the network exists there is nothing else to ask for."""
    subnet = ipaddress.ip_network(reservation.subnet)
    if not address:
        raise InvalidInput(what="address", value="", why=f"pool {reservation.subnet} has no network yet; name one")
    ip = model.ip_of(address)
    if ipaddress.ip_address(ip) not in subnet:
        raise InvalidInput(what="address", value=ip, why=f"it is outside the subnet {subnet}")
    aux = sorted({*reservation.data.get("aux", []), ip})
    res.update(ctx.store, ctx.host_id, reservation, revision, data={**reservation.data, "aux": aux})
    return f"{ip}/{subnet.prefixlen}"


def lease_owner(ctx: HostContext, net: Network, mac: str) -> str:
    """`docker-mac:<MAC>`, or a numbered variant when an endpoint already holds that one (two
    containers given the same --mac-address must not get the same address)."""
    base = f"{LEASE_PREFIX}{mac.lower() or 'none'}"
    taken = {ep.lease_owner for ep in endpoints.on_network(ctx.store, ctx.host_id, net.name)}
    owner, n = base, 1
    while owner in taken:
        n += 1
        owner = f"{base}#{n}"
    return owner


def release_address(ctx: HostContext, pid: str, address: str) -> None:
    """A container's lease (by its address); aux addresses and the gateway go with the network."""
    ip = model.ip_of(address)
    net = network_of(ctx, subnet_of(pid))
    if net is not None:
        ipam = Ipam(ctx.store, ctx.host_id)
        lease = ipam.lease_at(net.name, ip)
        if lease is not None and lease.owner.startswith(LEASE_PREFIX):
            ipam.release(net.name, lease.owner)
        return
    found = res.load(ctx.store, ctx.host_id, subnet_of(pid))
    if found is not None and ip in found[0].data.get("aux", []):
        aux = [a for a in found[0].data["aux"] if a != ip]
        res.update(ctx.store, ctx.host_id, found[0], found[1], data={**found[0].data, "aux": aux})


def bind(ctx: HostContext, subnet: str, network: str) -> Reservation:
    """CreateNetwork: the pool is becoming `network` (refused when it is not one of ours, or taken)."""
    found = res.load(ctx.store, ctx.host_id, subnet)
    taken = network_of(ctx, subnet)
    if taken is not None and taken.name != network:
        raise Conflict(f"subnet {subnet} is already taken by network {taken.display_name}; choose another --subnet")
    if found is None:
        raise InvalidInput(f"the addresses of this network ({subnet}) come from another IPAM driver; wirework "
                           f"networks need wirework's: give --ipam-driver the plugin's name too "
                           f"(docker network create -d wirework --ipam-driver wirework ...)")
    reservation, revision = found
    if reservation.network and reservation.network != network:
        raise Conflict(f"subnet {subnet} is already taken by network {reservation.network}; choose another --subnet")
    if reservation.network == network:
        return reservation
    bound = res.update(ctx.store, ctx.host_id, reservation, revision, network=network)
    if bound is None:
        raise Conflict(f"pool {subnet} changed while network {network} was being made; try again")
    return bound


def settled(ctx: HostContext, subnet: str) -> None:
    """The network exists: its record is the pool now."""
    res.release(ctx.store, ctx.host_id, subnet)


def unbind(ctx: HostContext, subnet: str, network: str) -> None:
    """Undo `bind` (the network could not be made)."""
    found = res.load(ctx.store, ctx.host_id, subnet)
    if found is not None and found[0].network == network:
        res.update(ctx.store, ctx.host_id, found[0], found[1], network="")

"""Cluster networks made through Docker: `docker network create -d wirework --ipam-driver wirework
--subnet 10.244.0.0/16 -o wirework.driver=vxlan NAME` with the service on a shared store.

Docker tells the driver a network's id, never its name, and tells it only after CreateNetwork
returns (its `network create` event). So the work is split:

- CreateNetwork (`create_network`) checks everything it can at once, so that `docker network
  create` refuses a bad request in one line: the options (`model`), that the pool is a --subnet
  the user gave, and that the shared store holds no different definition for that subnet (same
  subnet, other driver, host subnet length, VNI, MTU or port) and nothing overlapping it. It
  then records the binding (`networks.docker.bindings`); the pool's reservation is settled.
- When the name arrives (`learn_name`, from Docker's event or a resync), the cluster network is
  defined under it (`registry.define`: an identical definition is fine; a different one under
  that name is remembered on the binding and refused at every container start, with the fix).
  A store out of reach then is tried again by `ensure_defined` (each RequestAddress, each resync).

The host's share comes from its agent, which sees the definition through its watch, leases a
subnet and builds the network; containers then join that (see `networks.docker.pools`).
`docker network rm` removes only the binding: the definition stays for the other hosts
(`wirework network rm NAME --store URL [--force]` removes it cluster-wide).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from wirework.cluster import registry
from wirework.cluster.model import ACTIVE, ClusterNetwork, validate_cluster_network
from wirework.context import HostContext
from wirework.errors import Conflict, InvalidInput, StoreUnavailable
from wirework.networks.docker import bindings, model
from wirework.networks.docker.bindings import ClusterBinding
from wirework.networks.docker.nets import wirework_name
from wirework.networks.subnets import reservations as res
from wirework.store.base import ClusterStore


def create_network(ctx: HostContext, store: ClusterStore, network_id: str, options: dict[str, Any],
                   ipv4: list[dict[str, Any]], ipv6: list[dict[str, Any]]) -> ClusterBinding:
    ctx.before_change()
    opts = model.parse_network_options(options)
    if ipv6 or len(ipv4) != 1:
        raise InvalidInput(what="subnets", value=str(len(ipv4) + len(ipv6)),
                           why="a cluster network has exactly one IPv4 subnet (--subnet)")
    existing = bindings.load(ctx, network_id)
    if existing is not None:
        return existing  # Docker asking again
    subnet = str(ipaddress.ip_network(str(ipv4[0].get("Pool", "")), strict=False))
    found = res.load(ctx.store, ctx.host_id, subnet)
    if found is None:
        raise InvalidInput(f"the addresses of this network ({subnet}) come from another IPAM driver; cluster networks "
                           f"need wirework's: add --ipam-driver with the plugin's name")
    if found[0].data.get("picked"):
        raise InvalidInput(what="subnet", value=subnet, why=(
            f"a cluster network ({opts.driver}) spans every host: name its whole range with --subnet "
            f"(e.g. --subnet 10.244.0.0/16), each host takes a share of it"))
    if found[0].data.get("sub_pool"):
        raise InvalidInput(what="IP range", value=str(found[0].data["sub_pool"]), why=(
            "each host of a cluster network hands out addresses of its own share; leave --ip-range out"))
    wanted = _definition(network_id, opts, subnet)
    _check_against_store(store, wanted)
    taken = bindings.by_subnet(ctx, subnet)
    if taken is not None:
        raise Conflict(f"subnet {subnet} is already Docker network {taken.docker_name or taken.docker_id[:12]} on this "
                       f"host; use that one, or remove it first")
    binding = ClusterBinding(network_id, subnet, _fields(wanted))
    bindings.create(ctx, binding)
    res.release(ctx.store, ctx.host_id, subnet)  # the binding is the pool from now on
    return binding


def _definition(network_id: str, opts: model.NetworkOptions, subnet: str) -> ClusterNetwork:
    """The definition the options ask for, validated (named after the Docker id until the name is known)."""
    given = dict(opts.cluster)
    return validate_cluster_network(wirework_name(network_id), driver=opts.driver, subnet=subnet,
                                    host_subnet_len=given.get("host_subnet_len", 24), vni=given.get("vni"),
                                    mtu=opts.mtu, port=given.get("port"))


def _fields(net: ClusterNetwork) -> dict[str, Any]:
    data = net.definition()
    del data["name"], data["subnet"]
    return data


def _check_against_store(store: ClusterStore, wanted: ClusterNetwork) -> None:
    """Refuse now what the shared store contradicts: a definition of this subnet that differs,
    one that overlaps it, one being removed."""
    mine = ipaddress.IPv4Network(wanted.subnet)
    for defined in registry.all_networks(store):
        other = defined.network
        if other.subnet == wanted.subnet:
            diff = differs(other, wanted)
            if diff:
                field, have, want = diff
                raise Conflict(f"subnet {wanted.subnet} is cluster network {other.name}'s, defined with {field} {have}, "
                               f"not {want}; give the options of its definition ('wirework network inspect "
                               f"{other.name} --store URL') or another --subnet")
            if other.state != ACTIVE:
                raise Conflict(f"cluster network {other.name} ({other.subnet}) is being removed (draining); wait until "
                               f"'wirework network rm {other.name} --force' finishes, then create it again")
        elif mine.overlaps(ipaddress.IPv4Network(other.subnet)):
            raise Conflict(f"subnet {wanted.subnet} overlaps cluster network {other.name} ({other.subnet}); choose a "
                           f"subnet outside it")


def differs(have: ClusterNetwork, want: ClusterNetwork) -> tuple[str, Any, Any] | None:
    """The first field two definitions disagree on (name aside; an omitted VNI means any)."""
    a, b = have.definition(), want.definition()
    for field in ("driver", "host_subnet_len", "vni", "mtu", "port"):
        if field == "vni" and b[field] is None:
            continue
        if a[field] != b[field]:
            return field, a[field], b[field]
    return None


def learn_name(ctx: HostContext, store: ClusterStore, network_id: str, name: str) -> bool:
    """Docker's name for a bound network is known: define the cluster network under it."""
    binding = bindings.load(ctx, network_id)
    if binding is None:
        return False
    if binding.docker_name != name:
        binding = bindings.update(ctx, network_id, docker_name=name)
    return binding is not None and _define(ctx, store, binding)


def ensure_defined(ctx: HostContext, store: ClusterStore) -> None:
    """Define what could not be defined when the name came (the store was out of reach)."""
    for binding in bindings.all_bindings(ctx):
        if binding.docker_name and not binding.cluster and not binding.error:
            _define(ctx, store, binding)


def _same_subnet_other_name(store: ClusterStore, net: ClusterNetwork) -> None:
    """The subnet is another name's: say which name the Docker network must have."""
    for defined in registry.all_networks(store):
        if defined.network.subnet == net.subnet and defined.network.name != net.name:
            raise Conflict(f"subnet {net.subnet} is cluster network {defined.network.name}'s; a Docker network on it "
                           f"must have that name too ('docker network create ... {defined.network.name}')")


def _define(ctx: HostContext, store: ClusterStore, binding: ClusterBinding) -> bool:
    if binding.cluster or binding.error or not binding.docker_name:
        return False
    try:
        net = ClusterNetwork.from_dict({**binding.definition, "name": binding.docker_name, "subnet": binding.subnet})
        _same_subnet_other_name(store, net)
        registry.define(store, validate_cluster_network(
            net.name, driver=net.driver, subnet=net.subnet, host_subnet_len=net.host_subnet_len, vni=net.vni,
            mtu=net.mtu, port=net.port))
    except StoreUnavailable:
        return False  # tried again later
    except (Conflict, InvalidInput) as exc:
        bindings.update(ctx, binding.docker_id, error=str(exc))
        return True
    bindings.update(ctx, binding.docker_id, cluster=binding.docker_name)
    return True

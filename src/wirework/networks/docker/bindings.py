"""Docker networks bound to a cluster network (`-o wirework.driver=vxlan|host-gw|ovs-vxlan|ovs-gre`).

A cluster network is defined once in the shared store and built on each host by its agent
(`wirework.cluster`): the local network the agent materialises (named like the cluster network,
its subnet this host's share) is what Docker's containers join. The Docker network itself is
only a binding, `dockerclu/<host>/<docker id>`: the whole cluster subnet (Docker's pool), the
definition the options asked for, and — once Docker's name for it is known (Docker never tells
a driver the name: it comes with Docker's event a moment after CreateNetwork) — the cluster
network it stands for, or why it cannot (`error`: the store holds a different definition).

Endpoints, joins and leases then work on the materialised network like on any Docker network
(`nets.by_docker_id` and `pools.network_of` look here); this module reads and writes the local
store only: defining the network in the shared store is `cluster.dockernets`'s job.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from wirework.context import HostContext
from wirework.errors import Conflict
from wirework.networks import network as nets
from wirework.networks.network import Network
from wirework.store.base import Compare, Delete, Put

PREFIX = "dockerclu/"
#: How long RequestAddress waits for this host's agent to build a network it just learned of.
WAIT_FOR_AGENT = 10.0


@dataclass(frozen=True)
class ClusterBinding:
    docker_id: str
    subnet: str  # the whole cluster network's subnet: the pool Docker knows
    definition: dict[str, Any]  # driver, host_subnet_len, vni, mtu, port as the -o options asked
    docker_name: str = ""
    cluster: str = ""  # the cluster network's name once defined (or found identical) in the store
    error: str = ""  # why the Docker network cannot be used (said on every container start)
    created: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterBinding:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})


def key(host: str, docker_id: str) -> str:
    return f"{PREFIX}{host}/{docker_id}"


def load(ctx: HostContext, docker_id: str) -> ClusterBinding | None:
    entry = ctx.store.get(key(ctx.host_id, docker_id))
    return ClusterBinding.from_dict(entry.value) if entry else None


def all_bindings(ctx: HostContext) -> list[ClusterBinding]:
    return [ClusterBinding.from_dict(e.value) for e in ctx.store.scan(f"{PREFIX}{ctx.host_id}/")]


def by_subnet(ctx: HostContext, subnet: str) -> ClusterBinding | None:
    return next((b for b in all_bindings(ctx) if b.subnet == subnet), None)


def create(ctx: HostContext, binding: ClusterBinding) -> bool:
    """Write a new binding (False: one exists already for that Docker id)."""
    return ctx.store.create(key(ctx.host_id, binding.docker_id), binding.to_dict())


def update(ctx: HostContext, docker_id: str, **changes: Any) -> ClusterBinding | None:
    """Change a binding in place (compare-and-swap); None when it is gone."""
    for _ in range(5):
        entry = ctx.store.get(key(ctx.host_id, docker_id))
        if entry is None:
            return None
        new = replace(ClusterBinding.from_dict(entry.value), **changes)
        if ctx.store.txn([Compare(entry.key, entry.revision)], [Put(entry.key, new.to_dict())]):
            return new
    raise Conflict(f"the record of Docker network {docker_id[:12]} kept changing; try again")


def delete(ctx: HostContext, docker_id: str) -> None:
    ctx.store.txn([], [Delete(key(ctx.host_id, docker_id))])


def materialised(ctx: HostContext, binding: ClusterBinding) -> Network | None:
    """This host's part of the bound cluster network, once its agent has built it."""
    if not binding.cluster:
        return None
    net = nets.load(ctx.store, ctx.host_id, binding.cluster)
    return net if net is not None and net.driver and net.cluster_cidr == binding.subnet else None


def unusable(binding: ClusterBinding) -> Conflict:
    """Why containers cannot join (yet): the definition conflict, or no name learned yet."""
    name = binding.docker_name or binding.docker_id[:12]
    if binding.error:
        return Conflict(f"Docker network {name}: {binding.error}; remove it ('docker network rm {name}') and create "
                        f"it again with the options of the cluster network's definition")
    if not binding.cluster:
        return Conflict(f"Docker network {name} is not a cluster network yet: wirework learns its name from Docker's "
                        f"events a moment after 'docker network create' and defines it then; try again")
    return Conflict(f"cluster network {binding.cluster} has not reached this host yet: the wirework service's agent "
                    f"builds it once this host holds a subnet of it (see 'wirework service status' and 'wirework host "
                    f"ls {binding.cluster}'; if it was removed cluster-wide, 'docker network rm' this one); try again")


def wait_materialised(ctx: HostContext, binding: ClusterBinding, timeout: float | None = None) -> Network:
    """The materialised network, waiting a little for the agent (it runs on another thread) when
    the cluster network was only just defined; the reason when it does not come."""
    deadline = time.monotonic() + (WAIT_FOR_AGENT if timeout is None else timeout)
    while True:
        net = materialised(ctx, binding)
        if net is not None:
            return net
        if binding.error or not binding.cluster or time.monotonic() >= deadline:
            raise unusable(binding)
        time.sleep(0.05)
        binding = load(ctx, binding.docker_id) or binding


def by_docker_id(ctx: HostContext, docker_id: str) -> Network | None:
    """The materialised network a Docker network stands for (None: no binding, or not built)."""
    binding = load(ctx, docker_id)
    return materialised(ctx, binding) if binding is not None else None


def network_of_pool(ctx: HostContext, subnet: str) -> Network | None:
    binding = by_subnet(ctx, subnet)
    return materialised(ctx, binding) if binding is not None else None


def cluster_cidrs(ctx: HostContext) -> set[str]:
    """Whole-cluster subnets this host knows: of networks its agent built, and of bindings."""
    built = {n.cluster_cidr for n in nets.all_networks(ctx.store, ctx.host_id) if n.driver and n.cluster_cidr}
    return built | {b.subnet for b in all_bindings(ctx)}

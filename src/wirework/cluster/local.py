"""The host's own side of cluster networks: what the agent remembers, and leaving a network.

The memory lives in the host's SQLite store (never in the shared one): the lease and host id of
the last run, and the subnet held per network, so a restarted agent resumes its lease or asks
for the same subnet again.
"""

from __future__ import annotations

import time
from typing import Any

from wirework.cluster import keys
from wirework.cluster.converge import Desired, plan_leave
from wirework.context import HostContext
from wirework.networks import connops, endpoints, netops
from wirework.networks import network as nets
from wirework.networks.network import Network
from wirework.plan.executor import run_best_effort
from wirework.store.base import Delete, Put, Store


class Memory:
    def __init__(self, store: Store, local_host: str) -> None:
        self.store = store
        self.local_host = local_host

    def agent(self) -> dict[str, Any] | None:
        entry = self.store.get(keys.local_agent_key(self.local_host))
        return dict(entry.value) if entry else None

    def remember_agent(self, lease: int, host_id: str, ttl: float) -> None:
        self.store.put(keys.local_agent_key(self.local_host), {"lease": lease, "host": host_id, "ttl": ttl,
                                                               "at": time.time()})

    def subnet(self, network: str) -> dict[str, Any] | None:
        entry = self.store.get(keys.local_subnet_key(self.local_host, network))
        return dict(entry.value) if entry else None

    def remember_subnet(self, network: str, subnet: str, since: float) -> None:
        key = keys.local_subnet_key(self.local_host, network)
        if (self.subnet(network) or {}).get("subnet") != subnet:
            self.store.put(key, {"subnet": subnet, "since": since})

    def forget_subnet(self, network: str) -> None:
        self.store.delete(keys.local_subnet_key(self.local_host, network))

    def forget_agent(self) -> None:
        self.store.txn([], [Delete(keys.local_agent_key(self.local_host))])


def materialised(ctx: HostContext) -> dict[str, Network]:
    """The cluster networks this host has built, by name (from its own store)."""
    return {n.name: n for n in nets.all_networks(ctx.store, ctx.host_id) if n.driver}


def leave_locally(ctx: HostContext, name: str, desired: Desired | None) -> list[str]:
    """Disconnect the network's guests, remove its data plane and bridge network; the errors."""
    errors: list[str] = []
    for ep in endpoints.on_network(ctx.store, ctx.host_id, name):
        errors += connops.drop_endpoint(ctx, ep)
    if desired is not None:
        errors += run_best_effort(ctx.host, plan_leave(ctx.host, desired, ctx.host_id))
    if nets.load(ctx.store, ctx.host_id, name) is not None:
        try:
            netops.remove(ctx, name, force=True, detach=lambda ep: connops.drop_endpoint(ctx, ep), cluster=True)
        except Exception as exc:
            errors.append(str(exc))
    return errors


def record_op(net: Network) -> Put:
    return nets.put_op(net)

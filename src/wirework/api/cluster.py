"""The facade's cluster network operations (`wirework.cluster`): a mix-in of `Wirework`.

    ww = Wirework(store="etcd://10.0.0.1:2379")
    ww.cluster_network_create("blue", driver="vxlan", subnet="10.244.0.0/16")
    agent = ww.agent(public_ip="192.168.1.5"); agent.start()
    while True: agent.step(1.0)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from wirework.cluster import registry
from wirework.cluster.agent import Agent, AgentConfig
from wirework.cluster.converge import detect_public_ip
from wirework.cluster.hostid import cluster_host_id
from wirework.cluster.model import ClusterNetwork, validate_cluster_network
from wirework.context import HostContext
from wirework.model.addr import parse_ip
from wirework.store.base import ClusterStore


class ClusterAPI:
    """Methods of `Wirework` on cluster networks and the agent (the shared store: `cluster_store`)."""

    context: HostContext
    netns: str | None = None

    @property
    def cluster_store(self) -> ClusterStore:
        raise NotImplementedError

    def cluster_configured(self) -> bool:
        """Whether this session was given a shared store (`--store`, WIREWORK_STORE)."""
        raise NotImplementedError

    def cluster_defines(self, name: str) -> bool:
        return registry.load(self.cluster_store, name) is not None

    def cluster_network_create(self, name: str, *, driver: str, subnet: str | None, host_subnet_len: int | str = 24,
                               vni: int | str | None = None, mtu: int | str | None = None,
                               port: int | str | None = None) -> registry.Defined:
        """Define a network for the whole cluster (an identical repeat changes nothing)."""
        net = validate_cluster_network(name, driver=driver, subnet=subnet, host_subnet_len=host_subnet_len, vni=vni,
                                       mtu=mtu, port=port)
        return registry.define(self.cluster_store, net)

    def plan_cluster_network_create(self, name: str, *, driver: str, subnet: str | None,
                                    host_subnet_len: int | str = 24, vni: int | str | None = None,
                                    mtu: int | str | None = None, port: int | str | None = None
                                    ) -> tuple[ClusterNetwork, bool]:
        """What `cluster_network_create` would define, and whether it exists already (no write)."""
        net = validate_cluster_network(name, driver=driver, subnet=subnet, host_subnet_len=host_subnet_len, vni=vni,
                                       mtu=mtu, port=port)
        return registry.preview(self.cluster_store, net)

    def cluster_networks(self) -> list[dict[str, Any]]:
        out = []
        for defined in registry.all_networks(self.cluster_store):
            hosts = registry.host_subnets(self.cluster_store, defined.network.name)
            out.append({**defined.network.to_dict(), "hosts": len(hosts), "capacity": defined.network.capacity})
        return out

    def cluster_network_inspect(self, name: str) -> dict[str, Any]:
        defined = registry.require(self.cluster_store, name)
        return {**defined.network.to_dict(), "capacity": defined.network.capacity, "hosts": self.cluster_hosts(name)}

    def cluster_network_rm(self, name: str, *, force: bool = False, wait: float = 30.0) -> ClusterNetwork:
        """Remove a cluster network no host uses; `force` drains it first (hosts leave)."""
        return registry.remove(self.cluster_store, name, force=force, wait=wait)

    def cluster_hosts(self, network: str) -> list[dict[str, Any]]:
        """Every host of a network: public IP, subnet, how long it has held it, its health."""
        registry.require(self.cluster_store, network)
        now = time.time()
        rows = []
        for rec, _ in sorted(registry.host_subnets(self.cluster_store, network), key=lambda r: r[0].subnet):
            rows.append({"host": rec.host, "public_ip": rec.public_ip, "subnet": rec.subnet, "since": rec.since,
                         "lease_age": max(0.0, now - rec.since), "health": "ok" if rec.status == "ok" else "degraded",
                         "status": rec.status, "vtep_mac": rec.vtep_mac})
        return rows

    def agent(self, *, public_ip: str | None = None, lease_ttl: float = 10.0, host_id: str | None = None,
              networks: Sequence[str] = (), log: Callable[[str], None] | None = None) -> Agent:
        """This host's agent (not started): `start()`, then `step()` in a loop, `stop()` at the end."""
        ip = str(parse_ip(public_ip, "--public-ip")) if public_ip else detect_public_ip(self.context.host)
        config = AgentConfig(cluster_host_id(self.netns, host_id), ip, lease_ttl, tuple(networks))
        return Agent(self.context, self.cluster_store, config, log=log)

"""The facade's Docker methods: containers' wiring across restarts, and the Docker plugin.

The resident service calls the `container_*` methods on Docker's events (`service.docker_watch`);
the Docker network and IPAM driver (`wirework.dockerplugin`) calls the `docker_*` ones, one per
plugin request, with Docker's JSON already taken apart.
"""

from __future__ import annotations

from typing import Any

from wirework.context import HostContext


class DockerAPI:
    """Methods of `Wirework` that build on `networks.restart` and `networks.docker`."""

    context: HostContext

    def cluster_configured(self) -> bool:
        raise NotImplementedError

    @property
    def cluster_store(self) -> Any:
        raise NotImplementedError

    #: Where the IPAM driver picks subnets from (`BASE/LEN:SIZE,...`); None: WIREWORK_ADDRESS_POOLS
    #: or Docker's default pools. The service sets it once, from its own environment.
    address_pools: str | None = None

    # -- containers that stop and start (attachments and connections made by wirework) --------
    def container_started(self, container_id: str) -> list[str]:
        """Wire a container that (re)started again wherever it waits; one line per change."""
        from wirework.networks import restart

        return restart.container_started(self.context, container_id)

    def container_stopped(self, container_id: str) -> list[str]:
        """Suspend a stopped container's wiring, or release it when the container was removed."""
        from wirework.networks import restart

        return restart.container_stopped(self.context, container_id)

    def containers_resync(self) -> list[str]:
        """Bring every Docker container's wiring in line with the container (after missed events)."""
        from wirework.networks import restart

        return restart.resync(self.context)

    def recorded_hosts(self) -> list[str]:
        """Hosts ("-" or a namespace name) whose wiring this store records (for the service)."""
        from wirework.networks import restart

        return restart.recorded_hosts(self.context)

    def docker_connected(self, network_id: str, container_id: str) -> tuple[str, str] | None:
        """(address, sandbox) to announce after Docker's `connect` event on a wirework network."""
        from wirework.networks.docker import joins

        return joins.announcement(self.context, network_id, container_id)

    def announce_address(self, ip: str, netns_path: str) -> bool:
        """Gratuitous ARPs for `ip` from inside `netns_path` (takes ~0.5 s: run it on a thread)."""
        return self.context.host.arp.announce(ip, netns_path)

    # -- the Docker plugin: one method per request (IPAM driver, then network driver) -----------
    def docker_request_pool(self, pool: str, sub_pool: str, options: dict[str, Any] | None, v6: bool) -> tuple[str, str]:
        """Reserve a pool (the given subnet, checked, or one wirework picks): (pool id, subnet)."""
        from wirework.networks.docker import pools

        pid = pools.request_pool(self.context, pool, sub_pool, options, v6, pools=self.address_pools)
        return pid, pools.subnet_of(pid)

    def docker_release_pool(self, pool_id: str) -> None:
        from wirework.networks.docker import pools

        pools.release_pool(self.context, pool_id)

    def docker_request_address(self, pool_id: str, address: str, options: dict[str, Any] | None) -> str:
        from wirework.networks.docker import pools

        self._define_pending()
        return pools.request_address(self.context, pool_id, address, options)

    def docker_release_address(self, pool_id: str, address: str) -> None:
        from wirework.networks.docker import pools

        pools.release_address(self.context, pool_id, address)

    def docker_create_network(self, network_id: str, options: dict[str, Any], ipv4: list[dict[str, Any]],
                              ipv6: list[dict[str, Any]]) -> Any:
        """A bridge network on this host, or (-o wirework.driver=vxlan...) a cluster network's
        binding, when this session has the shared store (the service's `--store`)."""
        from wirework.networks.docker import model, nets

        if model.parse_network_options(options).is_cluster and self.cluster_configured():
            from wirework.cluster import dockernets

            return dockernets.create_network(self.context, self.cluster_store, network_id, options, ipv4, ipv6)
        return nets.create_network(self.context, network_id, options, ipv4, ipv6)

    def docker_delete_network(self, network_id: str) -> None:
        from wirework.networks.docker import nets

        nets.delete_network(self.context, network_id)

    def docker_create_endpoint(self, network_id: str, endpoint_id: str, address: str, mac: str,
                               options: dict[str, Any]) -> str | None:
        """Record the endpoint; the MAC to answer when Docker gave none (else None)."""
        from wirework.networks.docker import joins

        return joins.create_endpoint(self.context, network_id, endpoint_id, address, mac, options)

    def docker_delete_endpoint(self, network_id: str, endpoint_id: str) -> None:
        from wirework.networks.docker import joins

        joins.delete_endpoint(self.context, network_id, endpoint_id)

    def docker_join(self, network_id: str, endpoint_id: str, sandbox: str) -> tuple[str, str | None]:
        """Make the endpoint's veth: (the host-side name Docker moves into the sandbox, gateway)."""
        from wirework.networks.docker import joins

        answer = joins.join(self.context, network_id, endpoint_id, sandbox)
        return answer.src_name, answer.gateway

    def docker_program_external(self, network_id: str, endpoint_id: str, options: dict[str, Any]) -> list[str]:
        from wirework.networks.docker import joins

        return joins.program_external(self.context, network_id, endpoint_id, options)

    def docker_revoke_external(self, network_id: str, endpoint_id: str) -> None:
        from wirework.networks.docker import joins

        joins.revoke_external(self.context, network_id, endpoint_id)

    def docker_endpoint_info(self, network_id: str, endpoint_id: str) -> dict[str, Any]:
        from wirework.networks.docker import joins

        return joins.endpoint_info(self.context, network_id, endpoint_id)

    # -- reconciling with Docker (after the plugin or dockerd was away) -------------------------
    def docker_network_ids(self) -> list[str]:
        """Docker ids of the networks Docker made on wirework (store only)."""
        from wirework.networks.docker import bindings, nets

        return [n.docker_id for n in nets.docker_networks(self.context)] + \
            [b.docker_id for b in bindings.all_bindings(self.context)]

    def docker_view(self, network_ids: list[str]) -> Any:
        """Docker's view of those networks (Docker API reads only: safe outside the session's thread)."""
        from wirework.networks.docker import resync

        return resync.view(self.context.docker, network_ids)

    def docker_resync(self, view: Any, *, grace: float | None = None) -> list[str]:
        """Remove what Docker no longer knows, learn names; one line per change."""
        from wirework.networks.docker import resync

        out = resync.resync(self.context, view, grace=resync.GRACE if grace is None else grace)
        self._define_pending()
        return out

    def docker_network_named(self, network_id: str, name: str) -> bool:
        """Docker's name for a network (its event): remembered; a cluster network is defined under it."""
        from wirework.networks.docker import bindings, nets

        if bindings.load(self.context, network_id) is not None and self.cluster_configured():
            from wirework.cluster import dockernets

            return dockernets.learn_name(self.context, self.cluster_store, network_id, name)
        return nets.set_docker_name(self.context, network_id, name)

    def _define_pending(self) -> None:
        """Cluster networks whose definition waits for the shared store (it was out of reach)."""
        from wirework.networks.docker import bindings

        if self.cluster_configured() and any(b.docker_name and not b.cluster and not b.error
                                             for b in bindings.all_bindings(self.context)):
            from wirework.cluster import dockernets

            dockernets.ensure_defined(self.context, self.cluster_store)

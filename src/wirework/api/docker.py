"""The facade's Docker methods: containers' wiring across restarts, and the Docker plugin.

The resident service calls the `container_*` methods on Docker's events (`service.docker_watch`);
the Docker network and IPAM driver (`wirework.dockerplugin`) calls the `docker_*` ones, one per
plugin request, with Docker's JSON already taken apart.
"""

from __future__ import annotations

from wirework.context import HostContext


class DockerAPI:
    """Methods of `Wirework` that build on `networks.restart` and `networks.docker`."""

    context: HostContext

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

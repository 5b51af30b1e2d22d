"""The facade's Docker-style network operations (`wirework.networks`) and diagnostics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wirework.context import HostContext
from wirework.plan.steps import Plan

if TYPE_CHECKING:
    from wirework.networks.cniops import CniAttachments


class NetworksAPI:
    """Methods of `Wirework` that build on `wirework.networks` and `wirework.diagnostics`."""

    context: HostContext

    def network_create(self, name: str, *, force: bool = False, dry_run: bool = False, no_sysctl: bool = False,
                       pools: str | None = None, **options: Any) -> Any:
        """Create a network (bridge, subnet, NAT, isolation). See networks.network.validate_network."""
        from wirework.networks import netops
        from wirework.networks.network import validate_network

        spec = validate_network(name, **options)
        return netops.create(self.context, spec, force=force, dry_run=dry_run, no_sysctl=no_sysctl, pools=pools)

    def network_rm(self, name: str, *, force: bool = False) -> Any:
        """Remove a network (refused while guests are connected, unless force disconnects them)."""
        from wirework.networks import connops, netops

        return netops.remove(self.context, name, force=force, detach=lambda ep: connops.drop_endpoint(self.context, ep))

    def plan_network_rm(self, name: str, *, force: bool = False) -> Plan:
        from wirework.networks import connops, netops

        return netops.plan_remove(self.context, name, force=force,
                                  detach_plan=lambda ep: connops.endpoint_plan(self.context, ep))

    def network_ls(self) -> list[dict[str, Any]]:
        from wirework.networks import netops

        return netops.listing(self.context)

    def network_inspect(self, name: str) -> dict[str, Any]:
        from wirework.networks import netops

        return netops.inspect(self.context, name)

    def network_link(self, a: str, b: str, *, unlink: bool = False, dry_run: bool = False) -> Plan:
        from wirework.networks import netops

        return netops.link(self.context, a, b, unlink=unlink, dry_run=dry_run)

    def connect(self, network: str, guest: str, *, dry_run: bool = False, **options: Any) -> Any:
        """Connect a guest to a network (address from IPAM, published ports). `default_route`:
        None (default) gives the guest its default route via this network when it has none yet
        (its first network, as Docker and podman do); True moves it here; False refuses it."""
        from wirework.networks import connops
        from wirework.networks.connect import validate_connect

        spec = validate_connect(network, guest, **options)
        return connops.connect(self.context, spec, dry_run=dry_run)

    def disconnect(self, network: str, guest: str) -> Any:
        """The endpoint removed, or None when the guest was not connected."""
        from wirework.networks import connops

        return connops.disconnect(self.context, network, guest)

    def plan_disconnect(self, network: str, guest: str) -> Plan:
        from wirework.networks import connops

        return connops.plan_disconnect(self.context, network, guest)

    def ports(self, guest: str) -> list[Any]:
        from wirework.networks import connops

        return connops.ports_of(self.context, guest)

    def run_guest(self, net: str, command: list[str], *, capture: bool = False, **options: Any) -> Any:
        """Start a command in a namespace of the given mode (wirework run): a
        `networks.modes.RunResult` (exit status, the detached guest's pid, captured output)."""
        from wirework.networks import modes

        return modes.run(self.context, modes.validate_run(net, command, **options), capture=capture)

    def plan_run(self, net: str, command: list[str], **options: Any) -> list[str]:
        """What `run_guest` would do, one line a step, after every check it makes (--dry-run)."""
        from wirework.networks import modes

        return modes.check_run(self.context, modes.validate_run(net, command, **options))

    def run_record(self, name: str) -> Any:
        """The record of a guest started by `wirework run` (NotFound, naming near names)."""
        from wirework.networks import modes

        return modes.require(self.context, name)

    def remove_guest(self, name: str) -> Any:
        from wirework.networks import modes

        return modes.remove(self.context, name)

    def guests(self) -> list[dict[str, Any]]:
        """Guests started by `wirework run`, as `wirework ps` shows them."""
        from wirework.networks import modes

        return [modes.view(r) for r in modes.all_runs(self.context)]

    def up(self, *, no_sysctl: bool = False, dry_run: bool = False) -> Any:
        """Re-apply every network, link, connection and published port (after a reboot or flush)."""
        from wirework.networks import up

        if dry_run:
            return up.up(self.context, no_sysctl=no_sysctl, dry_run=True)
        return self.context.recover() + up.up(self.context, no_sysctl=no_sysctl)

    def doctor(self, *, root: str = "/") -> Any:
        from wirework.diagnostics import doctor

        return doctor.diagnose(self.context, root=root)

    def bridges(self) -> list[dict[str, Any]]:
        """Every bridge of the host, Linux and OVS, with who made it, addresses and ports."""
        from wirework.diagnostics import bridges

        return bridges.list_bridges(self.context)

    def check(self, *, lan: str | None = None, lan_addr: str | None = None, probe: bool = True) -> Any:
        from wirework.diagnostics import check

        return check.matrix(self.context, lan=lan, lan_addr=lan_addr, probe=probe)

    # -- CNI attachments (the CNI front, wirework.cni): wirework.networks.cniops ----------
    @property
    def cni(self) -> CniAttachments:
        """ADD/DEL/CHECK/GC/STATUS of CNI attachments on this host (networks.cniops.CniAttachments)."""
        from wirework.guests.cniexec import delegate
        from wirework.networks.cniops import CniAttachments

        return CniAttachments(self.context, delegate)

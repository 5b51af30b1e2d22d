"""The facade's uplink (`wirework.uplink`) and Open vSwitch tunnel (`wirework.tunnels`) operations."""

from __future__ import annotations

from typing import Any

from wirework.context import HostContext


class UplinksAPI:
    """Methods of `Wirework` that move a NIC onto a bridge and tunnel between hosts."""

    context: HostContext

    def uplink(self, bridge: str, nic: str, *, ovs: bool | None = None, check: str | None = None,
               confirm_within: float = 0.0, dry_run: bool = False, on_applied: Any = None) -> Any:
        """Move NIC's addresses and routes onto BRIDGE and enslave NIC; put back when `check`
        (default: the gateway) does not answer. confirm_within > 0 leaves it pending until
        `uplink_confirm` (a watchdog, started by `on_applied(record)`, reverts otherwise)."""
        from wirework.uplink import state

        return state.uplink(self.context, bridge, nic, ovs=ovs, check=check, confirm_within=confirm_within,
                            dry_run=dry_run, on_applied=on_applied)

    def uplink_confirm(self, bridge: str) -> dict[str, Any]:
        from wirework.uplink import state

        return state.confirm(self.context.store, self.context.host_id, bridge)

    def uplink_undo(self, bridge: str, nic: str | None = None) -> bool:
        from wirework.uplink import state

        return state.undo(self.context, bridge, nic)

    def uplink_watch(self, bridge: str, *, interval: float = 1.0) -> str:
        from wirework.uplink import state

        return state.watch(self.context.host, self.context.store, self.context.host_id, bridge, interval=interval)

    def uplinks(self) -> list[dict[str, Any]]:
        from wirework.uplink import state

        return state.records(self.context.store, self.context.host_id)

    def tunnel_add(self, bridge: str, remote: str, *, type_: str = "gre", key: int | None = None,
                   name: str | None = None, underlay_bridge: str | None = None, dry_run: bool = False) -> Any:
        """An OVS tunnel port to `remote` on BRIDGE, with the underlay and MTUs it needs."""
        from wirework.tunnels import ovs

        spec = ovs.validate_tunnel(bridge, remote, type_=type_, key=key, name=name, underlay_bridge=underlay_bridge)
        return ovs.add(self.context, spec, dry_run=dry_run)

    def tunnel_rm(self, bridge: str, remote_or_port: str, *, dry_run: bool = False) -> Any:
        from wirework.tunnels import ovs

        return ovs.remove(self.context, bridge, remote_or_port, dry_run=dry_run)

    def tunnel_ls(self) -> list[dict[str, Any]]:
        from wirework.tunnels import ovs

        return ovs.listing(self.context)

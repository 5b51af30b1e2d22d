"""Netlink adapter over pyroute2, bound to one host network namespace.

The host's socket is opened once inside the host's netns; guest sockets are opened inside
the guest's netns (setns in this thread, create, switch back) and kept in a small cache keyed
by the namespace's inode, because pyroute2's `IPRoute(netns=...)` forks a helper per socket
and costs ~20 ms. Every method is either a read or one targeted change; "absent" answers
are not errors for deletes. The class is assembled from four parts: `netlink_core`
(sockets and links), `netlink_routes` (addresses, routes, rules), `netlink_vxlan` (VXLAN, FDB,
neighbours) and `PortOps` below (a bridge port's VLAN and hairpin mode, TX checksum offload).
"""

from __future__ import annotations

from wirework.kernel import sockets
from wirework.kernel.netlink_core import LinkCore
from wirework.kernel.netlink_routes import AddrRouteOps
from wirework.kernel.netlink_vxlan import VxlanOps
from wirework.kernel.netns import inside


class PortOps(LinkCore):
    """Settings of one port: its VLAN and hairpin mode on a bridge, its TX checksum offload."""

    def bridge_vlan(self, port: str, vid: int, *, add: bool) -> None:
        self.sock().vlan_filter(
            "add" if add else "del", index=self._index(port), vlan_info={"vid": vid, "flags": ["pvid", "untagged"]}
        )

    def hairpin(self, port: str) -> bool | None:
        """Whether bridge port `port` may send a frame back out of the port it came in by (None:
        `port` is no bridge port)."""
        msg = self.sock().link("get", index=self._index(port))[0]
        mode = msg.get_nested("IFLA_LINKINFO", "IFLA_INFO_SLAVE_DATA", "IFLA_BRPORT_MODE")
        return None if mode is None else bool(mode)

    def set_hairpin(self, port: str, on: bool) -> None:
        self.sock().brport("set", index=self._index(port), mode=int(on))  # IFLA_BRPORT_MODE

    def set_tx_offload(self, name: str, ns: str | None, on: bool) -> None:
        with inside(ns):
            sockets.set_tx_checksum(name, on)


class Netlink(AddrRouteOps, VxlanOps, PortOps):
    """Everything wirework asks of netlink, for one host namespace and its guests."""


__all__ = ["Netlink"]

"""Netlink adapter over pyroute2, bound to one host network namespace.

The host's socket is opened once inside the host's netns; guest sockets are opened inside
the guest's netns (setns in this thread, create, switch back) and kept in a small cache keyed
by the namespace's inode, because pyroute2's `IPRoute(netns=...)` forks a helper per socket
and costs ~20 ms. Every method is either a read or one targeted change; "absent" answers
are not errors for deletes. The class is assembled from three parts: `netlink_core`
(sockets and links), `netlink_routes` (addresses, routes, rules), `netlink_vxlan` (VXLAN, FDB,
neighbours).
"""

from __future__ import annotations

from wirework.kernel.netlink_routes import AddrRouteOps
from wirework.kernel.netlink_vxlan import VxlanOps


class Netlink(AddrRouteOps, VxlanOps):
    """Everything wirework asks of netlink, for one host namespace and its guests."""


__all__ = ["Netlink"]

"""KernelHost: the real adapters bound to one network namespace.

`KernelHost()` is the machine itself; `KernelHost("ww-h1")` is a lab host or a test's
throwaway "host" namespace. Production, lab and tests run the same planned steps on it.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from wirework.kernel.netns import netns_path
from wirework.kernel.ovs_instance import socket_for

if TYPE_CHECKING:
    from wirework.kernel.iptables import Iptables
    from wirework.kernel.netlink import Netlink
    from wirework.kernel.netns import Sysctl
    from wirework.kernel.nft import Nft
    from wirework.kernel.ovs import Ovs
    from wirework.kernel.proc import Processes
    from wirework.kernel.sockets import Arp, Icmp

# Each adapter is imported when first used: a command that fails validation, or never touches
# netlink, does not pay for pyroute2 (~0.1 s even without its package __init__).


class KernelHost:
    def __init__(self, netns: str | None = None, *, ovs_db: str | None = None) -> None:
        self.netns = netns
        self.netns_path = netns_path(netns) if netns else None
        # A lab host's private OVS instance in its default run directory is found by itself.
        self.ovs_db = ovs_db or socket_for(netns)

    @cached_property
    def net(self) -> Netlink:
        from wirework.kernel.netlink import Netlink

        return Netlink(self.netns)

    @cached_property
    def proc(self) -> Processes:
        from wirework.kernel.proc import Processes

        return Processes(self.netns_path)

    @cached_property
    def ovs(self) -> Ovs:
        from wirework.kernel.ovs import Ovs

        return Ovs(self.proc, self.ovs_db)

    @cached_property
    def fw(self) -> Iptables:
        from wirework.kernel.iptables import Iptables

        return Iptables(self.proc)

    @cached_property
    def sysctl(self) -> Sysctl:
        from wirework.kernel.netns import Sysctl

        return Sysctl(self.netns_path)

    @cached_property
    def icmp(self) -> Icmp:
        from wirework.kernel.sockets import Icmp

        return Icmp(self.netns_path)

    @cached_property
    def arp(self) -> Arp:
        from wirework.kernel.sockets import Arp

        return Arp()

    @cached_property
    def nft(self) -> Nft:
        from wirework.kernel.nft import Nft

        return Nft(self.netns_path)

    def refresh_caches(self) -> None:
        """Read again what the adapters cache (the iptables listing), where they were used."""
        if "fw" in self.__dict__:
            self.fw.refresh()

    def close(self) -> None:
        """Close the netlink sockets (and their asyncio loops) and nft handle, each even if another fails."""
        try:
            if "net" in self.__dict__:
                self.__dict__.pop("net").close()
        finally:
            if "nft" in self.__dict__:
                self.__dict__.pop("nft").close()

"""KernelHost: the real adapters bound to one network namespace.

`KernelHost()` is the machine itself; `KernelHost("ww-h1")` is a lab host or a test's
throwaway "host" namespace. Production, lab and tests run the same planned steps on it.
"""

from __future__ import annotations

from functools import cached_property

from wirework.kernel.iptables import Iptables
from wirework.kernel.netlink import Netlink
from wirework.kernel.netns import netns_path
from wirework.kernel.nft import Nft
from wirework.kernel.ovs import Ovs
from wirework.kernel.ovs_instance import socket_for
from wirework.kernel.proc import Processes
from wirework.kernel.sockets import Icmp
from wirework.kernel.sysctl import Sysctl


class KernelHost:
    def __init__(self, netns: str | None = None, *, ovs_db: str | None = None) -> None:
        self.netns = netns
        self.netns_path = netns_path(netns) if netns else None
        # A lab host's private OVS instance in its default run directory is found by itself.
        self.ovs_db = ovs_db or socket_for(netns)

    @cached_property
    def net(self) -> Netlink:
        return Netlink(self.netns)

    @cached_property
    def proc(self) -> Processes:
        return Processes(self.netns_path)

    @cached_property
    def ovs(self) -> Ovs:
        return Ovs(self.proc, self.ovs_db)

    @cached_property
    def fw(self) -> Iptables:
        return Iptables(self.proc)

    @cached_property
    def sysctl(self) -> Sysctl:
        return Sysctl(self.netns_path)

    @cached_property
    def icmp(self) -> Icmp:
        return Icmp(self.netns_path)

    @cached_property
    def nft(self) -> Nft:
        return Nft(self.netns_path)

    def close(self) -> None:
        if "net" in self.__dict__:
            self.net.close()
        if "nft" in self.__dict__:
            self.nft.close()

"""The address space of one network: subnet, gateway and the dynamic range, as integers."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass

from wirework.errors import InvalidInput


@dataclass(frozen=True)
class AddressRange:
    network: str  # the wirework network's name
    subnet: str
    gateway: str
    ip_range: str | None = None  # where dynamic addresses come from (default: the whole subnet)

    @property
    def prefixlen(self) -> int:
        return ipaddress.ip_network(self.subnet).prefixlen

    def bounds(self) -> tuple[int, int]:
        """First and last usable address of the dynamic range, as integers."""
        net = ipaddress.ip_network(self.subnet)
        rng = ipaddress.ip_network(self.ip_range) if self.ip_range else net
        first, last = int(rng.network_address), int(rng.broadcast_address)
        if first == int(net.network_address):
            first += 1
        if last == int(net.broadcast_address) and net.version == 4:
            last -= 1
        return first, last

    def candidates(self, after: int | None) -> Iterator[str]:
        """Every dynamic address once, starting after `after` and wrapping around."""
        first, last = self.bounds()
        start = after + 1 if after is not None and first <= after < last else first
        gateway = int(ipaddress.ip_address(self.gateway))
        for value in (*range(start, last + 1), *range(first, start)):
            if value != gateway:
                yield str(ipaddress.ip_address(value))

    def in_dynamic_range(self, ip: str) -> bool:
        first, last = self.bounds()
        return first <= int(ipaddress.ip_address(ip)) <= last

    def check_static(self, ip: str, *, in_range_ok: bool = False) -> str:
        """A requested (--ip) address: inside the subnet, a host address, not the gateway,
        and outside an explicit dynamic range (so no dynamically addressed guest can take it;
        `in_range_ok` follows Docker, which lets `--ip` take a free address of its --ip-range)."""
        try:
            addr = ipaddress.ip_address(ip.split("/")[0])
        except ValueError:
            raise InvalidInput(what="address", value=ip, why="it is not an IP address") from None
        net = ipaddress.ip_network(self.subnet)
        if addr.version != net.version or addr not in net:
            raise InvalidInput(what="address", value=ip, why=f"it is outside network {self.network}'s subnet {net}")
        if addr in (net.network_address, net.broadcast_address) and net.version == 4:
            raise InvalidInput(what="address", value=ip, why=f"it is the network or broadcast address of {net}")
        if str(addr) == self.gateway:
            raise InvalidInput(what="address", value=ip, why=f"it is the gateway of network {self.network}")
        if self.ip_range and not in_range_ok and addr in ipaddress.ip_network(self.ip_range):
            raise InvalidInput(what="address", value=ip,
                               why=f"it is inside the dynamic range {self.ip_range} of network {self.network}; "
                                   f"pick a static address outside it (in {net}) so no other guest can take it")
        return str(addr)

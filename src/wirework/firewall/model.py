"""What the firewall layer is asked to enforce: plain, frozen data, validated on the way in.

`NetworkRules` is one network's policy, `PortMapping` one published port (a range of `-p`
becomes one mapping per port, so every port is one map element). `parse_publish` turns
docker-style `-p` text into mappings that have no network and guest yet; `bind` fills them in.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

from wirework.errors import InvalidInput

PROTOCOLS = ("tcp", "udp")


@dataclass(frozen=True)
class NetworkRules:
    name: str  # network name
    bridge: str  # its Linux bridge
    subnet: str  # e.g. "10.88.0.0/24"
    gateway: str  # bridge address, e.g. "10.88.0.1"
    internal: bool = False  # no traffic to/from outside the network
    masquerade: bool = True  # SNAT egress to outside
    icc: bool = True  # guests of the same network may talk to each other
    #: A cluster network's whole subnet (this host's subnet is a part of it): traffic from
    #: there enters the bridge, and traffic to there is never masqueraded.
    cluster_cidr: str = ""

    @property
    def owner(self) -> str:
        return f"net:{self.name}"


@dataclass(frozen=True)
class PortMapping:
    network: str
    guest_ip: str
    proto: str  # "tcp" | "udp"
    host_port: int
    guest_port: int
    host_ip: str | None = None  # None = all host addresses; "127.0.0.1" = host only, never from the LAN
    owner: str = ""  # e.g. "att:<id>" or "guest:<key>"; goes into element comments

    @property
    def host_only(self) -> bool:
        """Published on a loopback address: reachable from the host itself, never from the LAN."""
        return self.host_ip is not None and ipaddress.IPv4Address(self.host_ip).is_loopback

    def text(self) -> str:
        """Docker's notation: `127.0.0.1:8080->80/tcp`."""
        where = f"{self.host_ip}:" if self.host_ip else "0.0.0.0:"
        return f"{where}{self.host_port}->{self.guest_port}/{self.proto}"


_PUBLISH = re.compile(r"^(?:(?P<ip>\[?[0-9A-Fa-f.:]*\]?):)?(?P<host>[^:/]*):(?P<guest>[^:/]+)(?:/(?P<proto>[^/]*))?$")


def _bad(value: str, why: str) -> InvalidInput:
    return InvalidInput(what="published port", value=value, why=why)


def _port_range(text: str, value: str, side: str) -> tuple[int, int]:
    first, sep, last = text.partition("-")
    try:
        lo, hi = int(first), int(last) if sep else int(first)
    except ValueError:
        raise _bad(value, f"{side} port {text!r} is not a number or a range N-M (e.g. 8080 or 8080-8090)") from None
    for port in (lo, hi):
        if not 1 <= port <= 65535:
            raise _bad(value, f"{side} port {port} is out of range; use 1-65535")
    if hi < lo:
        raise _bad(value, f"{side} range {text} ends before it starts; write it as {hi}-{lo}")
    return lo, hi


def _host_ip(text: str, value: str) -> str | None:
    text = text.strip("[]")
    if text in ("", "0.0.0.0"):
        return None
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise _bad(value, f"host address {text!r} is not an IPv4 address (e.g. 127.0.0.1 or 0.0.0.0)") from None


def parse_publish(text: str) -> list[PortMapping]:
    """`[HOSTIP:]HOSTPORT[-END]:PORT[-END][/tcp|udp]` -> one mapping per port, unbound.

    The returned mappings have empty `network` and `guest_ip`; `bind` sets them.
    """
    match = _PUBLISH.match(text.strip())
    if match is None or not match.group("host"):
        raise _bad(text, "expected [HOSTIP:]HOSTPORT[-END]:PORT[-END][/tcp|udp], e.g. 127.0.0.1:8080:80/tcp")
    proto = (match.group("proto") or "tcp").lower()
    if proto not in PROTOCOLS:
        raise _bad(text, f"unknown protocol {proto!r}; use tcp or udp")
    host_ip = _host_ip(match.group("ip") or "", text)
    h_lo, h_hi = _port_range(match.group("host"), text, "host")
    g_lo, g_hi = _port_range(match.group("guest"), text, "guest")
    if h_hi - h_lo != g_hi - g_lo:
        raise _bad(text, f"host range has {h_hi - h_lo + 1} ports and guest range {g_hi - g_lo + 1}; make them equal")
    return [PortMapping("", "", proto, h_lo + i, g_lo + i, host_ip) for i in range(h_hi - h_lo + 1)]


def bind(mappings: list[PortMapping], network: str, guest_ip: str, owner: str) -> list[PortMapping]:
    """The parsed mappings, pointed at one guest of one network."""
    return [replace(m, network=network, guest_ip=guest_ip, owner=owner) for m in mappings]

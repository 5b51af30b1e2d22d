"""Validation of addresses, MACs, interface names and other small values.

Each parser turns user text into a typed value or raises InvalidInput naming the value and
the fix; nothing here touches the machine.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface

from wirework.errors import InvalidInput

IPInterface = IPv4Interface | IPv6Interface
IPAddress = IPv4Address | IPv6Address

IFNAMSIZ = 15
_MAC_RE = re.compile(r"^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$")


def parse_ifname(value: str, what: str = "interface name") -> str:
    """Linux's dev_valid_name(): 1-15 bytes, not '.'/'..', no '/', ':' or white space."""
    why = None
    if not value:
        why = "it is empty"
    elif len(value.encode()) > IFNAMSIZ:
        why = f"it has {len(value.encode())} characters, Linux allows at most {IFNAMSIZ}"
    elif value in (".", ".."):
        why = "'.' and '..' are reserved"
    elif any(c in value for c in "/:") or any(c.isspace() for c in value):
        why = "it may not contain '/', ':' or white space"
    if why:
        raise InvalidInput(what=what, value=value, why=f"{why}; choose a shorter plain name")
    return value


def parse_cidr(value: str, what: str = "address") -> IPInterface:
    """An address with its prefix length, e.g. 192.168.1.10/24."""
    if "/" not in value:
        raise InvalidInput(what=what, value=value, why="it needs a prefix length, e.g. 10.0.0.2/24")
    try:
        iface = ipaddress.ip_interface(value)
    except ValueError as exc:
        raise InvalidInput(what=what, value=value, why=f"{exc}; write it as ADDRESS/PREFIX") from None
    host_bits = iface.network.max_prefixlen - iface.network.prefixlen
    edges = (iface.network.network_address, iface.network.broadcast_address)
    if iface.version == 4 and host_bits >= 2 and iface.ip in edges:
        raise InvalidInput(
            what=what, value=value,
            why="it is the network or broadcast address of its subnet; pick a host address",
        )
    if iface.ip.is_multicast or iface.ip.is_unspecified:
        raise InvalidInput(what=what, value=value, why="it is not a unicast host address")
    return iface


def parse_ip(value: str, what: str = "address") -> IPAddress:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise InvalidInput(what=what, value=value, why="it is not an IPv4 or IPv6 address") from None


def is_ip(text: str) -> bool:
    """Whether text is a bare IPv4 or IPv6 address (not a name)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def parse_network(value: str, what: str = "subnet") -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise InvalidInput(what=what, value=value, why=f"{exc}; write it as NETWORK/PREFIX") from None


def parse_route_dst(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A route destination: 'default', a prefix, or a bare address (a host route)."""
    if value == "default":
        return ipaddress.ip_network("0.0.0.0/0")
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise InvalidInput(what="route destination", value=value, why="write it as PREFIX/LEN or 'default'") from None


def check_gateway(gateway: IPAddress, cidr: IPInterface) -> None:
    if gateway.version == 6 and cidr.version == 6 and gateway.is_link_local:
        return  # an IPv6 router is usually reached by its link-local address
    if gateway.version != cidr.version or gateway not in cidr.network:
        raise InvalidInput(
            what="gateway", value=str(gateway),
            why=f"it is outside the subnet {cidr.network}; use an address inside it",
        )
    if gateway == cidr.ip:
        raise InvalidInput(what="gateway", value=str(gateway), why="it is the guest's own address")


def parse_mac(value: str) -> str:
    """A unicast MAC, or 'U:<text>' which derives a stable locally administered MAC from text."""
    if value.startswith("U:"):
        return mac_from_text(value[2:])
    if not _MAC_RE.match(value):
        raise InvalidInput(what="MAC address", value=value, why="write it as six hex pairs, e.g. 02:42:ac:11:00:02")
    value = ":".join(part.zfill(2) for part in value.split(":"))  # ip accepts 2:42:ac:11:0:2 too
    if int(value[:2], 16) & 1:
        raise InvalidInput(what="MAC address", value=value, why="it is a multicast address; the first octet must be even")
    if value.replace(":", "") == "0" * 12:
        raise InvalidInput(what="MAC address", value=value, why="the all-zero address cannot be used")
    return value.lower()


def mac_from_text(text: str) -> str:
    """pipework's U:<string>: md5 of the text plus a newline, first five bytes after 02:."""
    digest = hashlib.md5((text + "\n").encode(), usedforsecurity=False).hexdigest()
    return "02:" + ":".join(digest[i : i + 2] for i in range(0, 10, 2))


def parse_vlan(value: str | int) -> int:
    try:
        vid = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(what="VLAN", value=str(value), why="it must be a number from 1 to 4094") from None
    if not 1 <= vid <= 4094:
        raise InvalidInput(what="VLAN", value=str(value), why="it must be from 1 to 4094")
    return vid


def parse_mtu(value: str | int) -> int:
    try:
        mtu = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(what="MTU", value=str(value), why="it must be a number from 68 to 65535") from None
    if not 68 <= mtu <= 65535:
        raise InvalidInput(what="MTU", value=str(value), why="it must be from 68 to 65535")
    return mtu

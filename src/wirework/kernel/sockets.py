"""In-process socket work inside a namespace: ICMP echo, gratuitous ARP, and one ethtool ioctl.

ICMP echo (the uplink check, no `ping` program needed): a socket belongs to the namespace it
was created in, so it is opened inside the host's netns (`kernel.netns.inside`) and used from
here. As root a raw socket works everywhere; otherwise an unprivileged ICMP datagram socket,
which `net.ipv4.ping_group_range` must allow. Replies are matched by a random payload: a raw
socket sees every echo reply in the namespace.

Gratuitous ARP (`Arp.announce`): an address that comes back on a new MAC (Docker gives a
container a new random MAC each time it joins a network) is announced from inside the guest's
namespace, so that its peers replace their cached entry at once instead of ~30 s later. The
kernel's own arp_notify fires when the interface comes up, before the bridge port forwards.

TX checksum offload on/off by ioctl: a veth plugged straight into a userspace (netdev) Open
vSwitch bridge hands OVS packets with partial checksums that it forwards unfixed, so TCP
stalls; turning TX checksumming off inside the guest makes the guest compute them itself.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import time

from wirework.errors import NamespaceGone
from wirework.kernel.netns import inside

SIOCETHTOOL = 0x8946
SIOCGIFADDR = 0x8915
SIOCGIFHWADDR = 0x8927
ETH_P_ARP = 0x0806
ETHTOOL_STXCSUM = 0x00000017


def set_tx_checksum(ifname: str, on: bool) -> None:
    """Runs in the calling thread's current netns (call it inside netns.inside())."""
    value = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_STXCSUM, 1 if on else 0))
    ifreq = struct.pack("16sP", ifname.encode(), ctypes.addressof(value)).ljust(40, b"\0")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)

_ECHO = {socket.AF_INET: (8, 0), socket.AF_INET6: (128, 129)}  # (request, reply) types


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


class Icmp:
    def __init__(self, netns_path: str | None = None) -> None:
        self.netns_path = netns_path

    def echo(self, target: str, *, timeout: float = 1.0) -> bool:
        """True when `target` answers one echo request within `timeout` seconds."""
        family = socket.AF_INET6 if ":" in target else socket.AF_INET
        try:
            sock = self._socket(family)
        except OSError:
            return False
        with sock:
            token = os.urandom(16)
            ident, seq = int.from_bytes(token[:2], "big"), 1
            request, _ = _ECHO[family]
            header = struct.pack("!BBHHH", request, 0, 0, ident, seq)
            if family == socket.AF_INET:  # the kernel fills in ICMPv6 checksums itself
                header = struct.pack("!BBHHH", request, 0, _checksum(header + token), ident, seq)
            try:
                sock.sendto(header + token, (target, 0))
            except OSError:
                return False  # no route, unreachable network: no answer
            return self._await_reply(sock, family, token, time.monotonic() + timeout)

    def _socket(self, family: socket.AddressFamily) -> socket.socket:
        proto = socket.IPPROTO_ICMPV6 if family == socket.AF_INET6 else socket.IPPROTO_ICMP
        with inside(self.netns_path):
            try:
                return socket.socket(family, socket.SOCK_RAW, proto)
            except PermissionError:
                return socket.socket(family, socket.SOCK_DGRAM, proto)

    @staticmethod
    def _await_reply(sock: socket.socket, family: socket.AddressFamily, token: bytes, deadline: float) -> bool:
        _, reply = _ECHO[family]
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data = sock.recv(2048)
            except (TimeoutError, OSError):
                return False
            if sock.type == socket.SOCK_RAW and family == socket.AF_INET:
                data = data[(data[0] & 0x0F) * 4:]  # a raw IPv4 socket hands over the IP header too
            if len(data) >= 8 and data[0] == reply and data[8:] == token:
                return True
        return False


class Arp:
    """ARP sent from inside a guest's namespace (named by path: it need not be this host's)."""

    def announce(self, ip: str, netns_path: str, *, count: int = 3, interval: float = 0.25) -> bool:
        """Send `count` gratuitous ARPs for IPv4 `ip` from the interface that holds it inside
        `netns_path`; False when no interface there holds it, or the namespace or interface is gone."""
        try:
            with inside(netns_path):
                found = _interface_with(ip)
                if found is None:
                    return False
                ifname, mac = found
                sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
        except (OSError, NamespaceGone):
            return False
        frame = _garp_frame(mac, socket.inet_aton(ip))
        with sock:
            try:
                sock.bind((ifname, ETH_P_ARP))
                for n in range(count):
                    time.sleep(interval if n else 0)
                    sock.send(frame)
            except OSError:
                return False  # the interface went away meanwhile
        return True


def _interface_with(ip: str) -> tuple[str, bytes] | None:
    """(name, MAC) of the interface of the calling thread's netns whose address is `ip`."""
    packed = socket.inet_aton(ip)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            request = struct.pack("16s16x", name.encode())
            try:
                addr = fcntl.ioctl(probe.fileno(), SIOCGIFADDR, request)
            except OSError:
                continue  # no IPv4 address
            if addr[20:24] == packed:
                hw = fcntl.ioctl(probe.fileno(), SIOCGIFHWADDR, request)
                return name, hw[18:24]
    return None


def _garp_frame(mac: bytes, ip: bytes) -> bytes:
    """An Ethernet broadcast ARP request whose sender and target are both `ip` (RFC 5227's announcement)."""
    ethernet = b"\xff" * 6 + mac + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + ip + b"\0" * 6 + ip
    return ethernet + arp

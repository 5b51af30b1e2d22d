"""In-process socket work inside a namespace: ICMP echo, and the one ethtool ioctl wirework needs.

ICMP echo (the uplink check, no `ping` program needed): a socket belongs to the namespace it
was created in, so it is opened inside the host's netns (`kernel.netns.inside`) and used from
here. As root a raw socket works everywhere; otherwise an unprivileged ICMP datagram socket,
which `net.ipv4.ping_group_range` must allow. Replies are matched by a random payload: a raw
socket sees every echo reply in the namespace.

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

from wirework.kernel.netns import inside

SIOCETHTOOL = 0x8946
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

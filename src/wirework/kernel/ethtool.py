"""The one ethtool call wirework needs: TX checksum offload on/off, by ioctl.

A veth plugged straight into a userspace (netdev) Open vSwitch bridge hands OVS packets with
partial checksums that it forwards unfixed, so TCP stalls; turning TX checksumming off inside
the guest makes the guest compute them itself.
"""

from __future__ import annotations

import ctypes
import fcntl
import socket
import struct

SIOCETHTOOL = 0x8946
ETHTOOL_STXCSUM = 0x00000017


def set_tx_checksum(ifname: str, on: bool) -> None:
    """Runs in the calling thread's current netns (call it inside netns.inside())."""
    value = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_STXCSUM, 1 if on else 0))
    ifreq = struct.pack("16sP", ifname.encode(), ctypes.addressof(value)).ljust(40, b"\0")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)

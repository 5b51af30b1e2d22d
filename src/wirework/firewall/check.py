"""Conflict checks on published ports, before anything is touched."""

from __future__ import annotations

from collections.abc import Iterable

from wirework.errors import Conflict
from wirework.firewall.model import PortMapping


def overlaps(a: PortMapping, b: PortMapping) -> bool:
    """Same protocol and host port, and host addresses that meet (None means every address)."""
    if a.proto != b.proto or a.host_port != b.host_port:
        return False
    return a.host_ip is None or b.host_ip is None or a.host_ip == b.host_ip


def port_conflicts(mappings: Iterable[PortMapping], new: Iterable[PortMapping]) -> None:
    """Raise Conflict if a new mapping takes a host port already published (or twice in `new`).

    Re-publishing the very same mapping (same guest, same owner) is not a conflict.
    """
    taken = list(mappings)
    for m in new:
        for old in taken:
            if overlaps(old, m) and old != m:
                raise Conflict(
                    f"host port {m.text().split('->')[0]} is already published "
                    f"(as {old.text()} to {old.guest_ip} on network {old.network}); choose another host port"
                )
        taken.append(m)

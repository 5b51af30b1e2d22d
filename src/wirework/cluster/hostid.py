"""Cluster-wide host ids: a lab or test host is its namespace; a real host its name and machine id.

The host's own store keeps `-` for the real host (its keys never leave the machine); the shared
store needs ids that differ between machines and stay put across reboots. Cloned machines can
share a machine id: `--host-id` overrides, and the agent refuses a second live agent by one id.
"""

from __future__ import annotations

import re
import socket

MACHINE_ID = "/etc/machine-id"
_BAD = re.compile(r"[^A-Za-z0-9_.-]")


def cluster_host_id(netns: str | None, explicit: str | None = None, *, machine_id_path: str = MACHINE_ID) -> str:
    if explicit:
        return _clean(explicit)
    if netns:
        return _clean(netns)
    name = _clean(socket.gethostname().split(".")[0]) or "host"
    try:
        with open(machine_id_path, encoding="ascii") as f:
            machine = f.read().strip()[:8]
    except OSError:
        machine = ""
    return f"{name}-{machine}" if machine else name


def _clean(text: str) -> str:
    return _BAD.sub("-", text.strip())[:63]

"""A guest: anything with a network namespace that wirework wires (container, pid, netns)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Guest:
    kind: str  # "docker", "pid", "netns", "path", "cni"
    ref: str  # what the user typed
    name: str  # what to show
    key: str  # stable identity across restarts of the same guest (container id, netns name)
    netns_path: str
    netns_id: str  # "dev:inode" of the namespace right now; changes when a container restarts
    pid: int | None = None
    mode: str = ""  # network mode: none, bridge, host, container:X, a network name, or netns

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Guest:
        return cls(**data)


def label_of(key: str) -> str:
    """A guest key (`docker:<id>`, `netns:NAME`, `pid:N:<start>`, `path:P`) as people read it."""
    kind, _, rest = key.partition(":")
    if kind == "docker":
        return f"container {rest[:12]}"
    if kind == "pid":
        return f"pid {rest.split(':', 1)[0]}"
    if kind == "cni":
        return f"CNI container {rest.partition('/')[0][:12]}"
    return rest or key


# -- CNI attachments: the runtime's (container id, interface name) is the guest's identity --
CNI_PREFIX = "cni:"


def cni_key(container_id: str, ifname: str) -> str:
    return f"{CNI_PREFIX}{container_id}/{ifname}"


def cni_ref(container_id: str, ifname: str, netns_path: str) -> str:
    """What `guests.resolve` turns into a CNI guest: `cni:ID/IFNAME:NETNS_PATH`."""
    return f"{cni_key(container_id, ifname)}:{netns_path}"


def parse_cni_key(key: str) -> tuple[str, str] | None:
    """(container id, ifname) of a CNI guest key (or ref), None for other guests."""
    if not key.startswith(CNI_PREFIX):
        return None
    ident = key[len(CNI_PREFIX):].partition(":")[0]
    container_id, _, ifname = ident.partition("/")
    return (container_id, ifname) if container_id and ifname else None

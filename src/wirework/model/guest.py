"""A guest: anything with a network namespace that wirework wires (container, pid, netns)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Guest:
    kind: str  # "docker", "pid", "netns", "path"
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
    return rest or key

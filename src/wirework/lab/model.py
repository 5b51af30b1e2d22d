"""The lab topology as frozen data (mininet's lesson: a topology is pure data).

Built from a schema-checked document by `wirework.lab.topology`; every object keeps the line
it came from so that later checks can point at the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Item:
    """One entry of a host's `setup:` list: a kind from `wirework.lab.kinds` and its arguments."""

    host: str
    kind: str
    args: dict[str, Any]
    line: int
    index: int = 0

    def arg(self, key: str, default: Any = None) -> Any:
        return self.args.get(key, default)


@dataclass(frozen=True)
class Attach:
    bridge: str
    ip: str | None
    gateway: str | None
    ifname: str
    mac: str | None = None
    vlan: int | None = None
    mtu: int | None = None
    dhcp: bool = False
    line: int = 0


@dataclass(frozen=True)
class GuestDef:
    name: str
    host: str
    run: tuple[str, ...]
    attach: tuple[Attach, ...]
    line: int


@dataclass(frozen=True)
class HostDef:
    name: str
    forwarding: bool
    ovs: bool
    setup: tuple[Item, ...]
    guests: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class Member:
    host: str
    ifname: str
    address: str
    gateway: str | None
    line: int


@dataclass(frozen=True)
class Segment:
    name: str
    subnet: str
    mtu: int | None
    rate: str | None
    delay: str | None
    loss: str | None
    members: tuple[Member, ...]
    line: int

    @property
    def shaped(self) -> bool:
        return bool(self.rate or self.delay or self.loss)


@dataclass(frozen=True)
class Expect:
    sources: tuple[str, ...]
    targets: tuple[str, ...]
    ping: bool
    tcp: int | None
    mtu: int | None
    result: str  # "pass" or "fail"
    line: int


@dataclass(frozen=True)
class EtcdDef:
    """The lab's etcd: 1 or 3 members, inside a lab host's namespace or on this machine's loopback."""

    members: int
    host: str | None
    line: int


@dataclass(frozen=True)
class Topology:
    name: str
    path: str
    hosts: dict[str, HostDef]
    guests: dict[str, GuestDef]
    segments: tuple[Segment, ...]
    expects: tuple[Expect, ...] = ()
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    etcd: EtcdDef | None = None

    def items(self, kind: str | None = None) -> list[Item]:
        return [i for h in self.hosts.values() for i in h.setup if kind is None or i.kind == kind]

    def members_of(self, host: str) -> list[tuple[Segment, Member]]:
        return [(s, m) for s in self.segments for m in s.members if m.host == host]

"""The state store interface: a small key-value API with revisions and transactions.

It is shaped after etcd's v3 API (revisions, create-if-absent, compare-and-swap
transactions) so that the SQLite store used on one host and the etcd store used across
hosts are interchangeable; nothing above this module knows which one it talks to.
Values are JSON-compatible Python objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Entry:
    key: str
    value: Any
    revision: int


@dataclass(frozen=True)
class Compare:
    """Holds when `key` is at `revision`; revision 0 means "the key is absent"."""

    key: str
    revision: int


@dataclass(frozen=True)
class Put:
    key: str
    value: Any


@dataclass(frozen=True)
class Delete:
    key: str


Op = Put | Delete


class Store(Protocol):
    def get(self, key: str) -> Entry | None: ...
    def scan(self, prefix: str) -> list[Entry]: ...
    def put(self, key: str, value: Any) -> int: ...
    def create(self, key: str, value: Any) -> bool:
        """Store `value` only if `key` is absent; False when it was present."""
        ...

    def delete(self, key: str) -> bool: ...
    def txn(self, compares: list[Compare], ops: list[Op]) -> bool:
        """Apply every op atomically when every compare holds; False (nothing done) otherwise."""
        ...

    def close(self) -> None: ...

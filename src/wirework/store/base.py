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
    lease: int = 0  # 0: no lease; otherwise the key goes away when that lease expires


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


# -- what a control plane shared by several hosts needs beyond one host's store (etcd) -------


@dataclass(frozen=True)
class Event:
    """One change seen by a watch: a put (value set) or a delete (value None)."""

    key: str
    value: Any
    revision: int

    @property
    def deleted(self) -> bool:
        return self.value is None


class Watch(Protocol):
    def next(self, timeout: float) -> list[Event]:
        """The events since the previous call, in revision order; [] when none came in time.

        Raises `errors.StoreCompacted` when the start revision is no longer kept (the caller
        then re-reads everything), `errors.StoreUnavailable` when the store cannot be reached.
        """
        ...

    def cancel(self) -> None: ...


class ClusterStore(Store, Protocol):
    """A store shared by several hosts: leases with a TTL, and watches from a revision.

    Every multi-host decision is one `txn` (compare-and-swap or create-if-absent), never a
    read followed by a write. Keys written with `Put(..., lease=L)` (or `put`/`create` with
    `lease=L`) vanish when L expires; a put naming an expired lease raises
    `errors.LeaseExpired` and changes nothing.

    Beyond `Store`: a value may not be None (a watch reports a deletion as value None), and one
    txn may not change one key twice (etcd refuses it: `errors.InvalidInput`). Revisions are
    the store's global revisions (etcd's mod_revision): a txn's changes share one revision.
    """

    def put(self, key: str, value: Any, *, lease: int = 0) -> int:
        """Set `key`; returns the revision of the change."""
        ...

    def create(self, key: str, value: Any, *, lease: int = 0) -> bool:
        """Store `value` only if `key` is absent; False (nothing done) when it was present."""
        ...

    def grant(self, ttl: float) -> int:
        """A new lease of `ttl` seconds; returns its id (never 0)."""
        ...

    def refresh(self, lease: int) -> bool:
        """Keep a lease alive for another TTL; False when it has already expired."""
        ...

    def revoke(self, lease: int) -> None:
        """End a lease now (its keys are deleted); unknown leases are ignored."""
        ...

    def revision(self) -> int:
        """The store's current revision (watch from revision() + 1 to see only what follows)."""
        ...

    def watch(self, prefix: str, start_revision: int) -> Watch:
        """Every change under `prefix` from `start_revision` (inclusive) on."""
        ...

"""An in-memory `ClusterStore` (`memory:`) for unit tests: etcd's semantics, a clock you can advance.

Shipped to tests as `wirework.testing.MemoryClusterStore` / `ManualClock` (it lives here, with
the other stores, because `open_store("memory:")` opens it).

    clock = ManualClock()
    store = MemoryClusterStore(clock)
    lease = store.grant(10)
    store.create("hosts/h1", {"ip": "10.0.0.1"}, lease=lease)
    w = store.watch("hosts/", store.revision() + 1)
    clock.advance(11)                      # the lease expires: its keys are deleted
    assert w.next(0) == [Event("hosts/h1", None, ...)]

It passes the same contract tests as the etcd store (tests/system/test_store_contract.py):
global revisions shared by a txn's changes, `Compare(key, 0)` = absent, leases whose keys go
with them, watches from a revision, `compact()` making older revisions unavailable to watches
(`StoreCompacted`). Thread-safe, so tests can race clients against it. `fail()` makes every
call raise `StoreUnavailable` until `heal()` (an etcd outage in a unit test).
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wirework.errors import InvalidInput, LeaseExpired, StoreCompacted, StoreUnavailable
from wirework.store.base import Compare, Delete, Entry, Event, Op, Put


class ManualClock:
    """A monotonic clock that moves only when told; stores using it expire leases on `advance`."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._listeners: list[Callable[[], None]] = []

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds
        for listener in list(self._listeners):
            listener()

    def on_advance(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)


@dataclass
class _Lease:
    ttl: float
    deadline: float
    keys: set[str] = field(default_factory=set)


@dataclass
class _Value:
    value: Any
    revision: int
    lease: int


class MemoryClusterStore:
    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self.clock = clock or time.monotonic
        self._kv: dict[str, _Value] = {}
        self._history: list[Event] = []
        self._compacted = 0
        self._rev = 1  # etcd starts at revision 1 with no keys
        self._leases: dict[int, _Lease] = {}
        self._ids = itertools.count(0x1000)
        self._cond = threading.Condition(threading.RLock())
        self._down = False
        if isinstance(clock, ManualClock):
            clock.on_advance(self.expire)

    # -- test controls -------------------------------------------------------------------------
    def fail(self) -> None:
        """Every call raises StoreUnavailable (watches too) until `heal()`."""
        with self._cond:
            self._down = True
            self._cond.notify_all()

    def heal(self) -> None:
        with self._cond:
            self._down = False
            self._cond.notify_all()

    def compact(self, revision: int) -> None:
        with self._cond:
            self._check()
            self._compacted = max(self._compacted, min(revision, self._rev))
            self._history = [e for e in self._history if e.revision >= self._compacted]

    def expire(self) -> None:
        """Delete the keys of every lease whose TTL ran out (done before every call too)."""
        with self._cond:
            now = self.clock()
            for lease_id in [i for i, lease in self._leases.items() if lease.deadline <= now]:
                self._end_lease(lease_id)

    # -- Store -------------------------------------------------------------------------------
    def get(self, key: str) -> Entry | None:
        with self._cond:
            self._enter()
            found = self._kv.get(key)
            return Entry(key, copy.deepcopy(found.value), found.revision) if found else None

    def scan(self, prefix: str) -> list[Entry]:
        with self._cond:
            self._enter()
            return [Entry(k, copy.deepcopy(v.value), v.revision) for k, v in sorted(self._kv.items())
                    if k.startswith(prefix)]

    def put(self, key: str, value: Any, *, lease: int = 0) -> int:
        with self._cond:
            self.txn([], [Put(key, value, lease)])
            return self._rev

    def create(self, key: str, value: Any, *, lease: int = 0) -> bool:
        return self.txn([Compare(key, 0)], [Put(key, value, lease)])

    def delete(self, key: str) -> bool:
        with self._cond:
            self._enter()
            if key not in self._kv:
                return False
            self._apply([Delete(key)])
            return True

    def txn(self, compares: list[Compare], ops: list[Op]) -> bool:
        with self._cond:
            self._enter()
            self._validate(ops)
            if not all(self._holds(c) for c in compares):
                return False
            self._apply(ops)
            return True

    def close(self) -> None:
        pass

    # -- ClusterStore ------------------------------------------------------------------------
    def grant(self, ttl: float) -> int:
        if ttl <= 0:
            raise InvalidInput(what="lease TTL", value=ttl, why="give a positive number of seconds")
        with self._cond:
            self._enter()
            lease_id = next(self._ids)
            self._leases[lease_id] = _Lease(ttl, self.clock() + ttl)
            return lease_id

    def refresh(self, lease: int) -> bool:
        with self._cond:
            self._enter()
            found = self._leases.get(lease)
            if found is None:
                return False
            found.deadline = self.clock() + found.ttl
            return True

    def revoke(self, lease: int) -> None:
        with self._cond:
            self._enter()
            if lease in self._leases:
                self._end_lease(lease)

    def revision(self) -> int:
        with self._cond:
            self._enter()
            return self._rev

    def watch(self, prefix: str, start_revision: int) -> MemoryWatch:
        with self._cond:
            self._enter()
            return MemoryWatch(self, prefix, start_revision if start_revision > 0 else self._rev + 1)

    # -- internals ---------------------------------------------------------------------------
    def _check(self) -> None:
        if self._down:
            raise StoreUnavailable("the in-memory store is failing on purpose (MemoryClusterStore.fail); "
                                   "call heal() to bring it back")

    def _enter(self) -> None:
        self._check()
        self.expire()

    def _validate(self, ops: list[Op]) -> None:
        keys = [op.key for op in ops]
        if len(set(keys)) != len(keys):
            raise InvalidInput(what="transaction", value=keys, why="it changes one key twice (etcd refuses that)")
        for op in ops:
            if isinstance(op, Put):
                if op.value is None:
                    raise InvalidInput(what="value of", value=op.key,
                                       why="None cannot be stored (a watch reports a deletion as None)")
                json.dumps(op.value)  # JSON-compatible, as in the real stores
                if op.lease and op.lease not in self._leases:
                    raise LeaseExpired("the lease has expired or was revoked; grant a new one")

    def _holds(self, cmp: Compare) -> bool:
        found = self._kv.get(cmp.key)
        return (found.revision if found else 0) == cmp.revision

    def _apply(self, ops: list[Op]) -> None:
        changes = [op for op in ops if isinstance(op, Put) or op.key in self._kv]
        if not changes:
            return  # etcd: a txn that changes nothing keeps the revision
        self._rev += 1
        for op in changes:
            self._detach(op.key)
            if isinstance(op, Put):
                self._kv[op.key] = _Value(copy.deepcopy(op.value), self._rev, op.lease)
                if op.lease:
                    self._leases[op.lease].keys.add(op.key)
                self._history.append(Event(op.key, copy.deepcopy(op.value), self._rev))
            else:
                del self._kv[op.key]
                self._history.append(Event(op.key, None, self._rev))
        self._cond.notify_all()

    def _detach(self, key: str) -> None:
        old = self._kv.get(key)
        if old is not None and old.lease in self._leases:
            self._leases[old.lease].keys.discard(key)

    def _end_lease(self, lease_id: int) -> None:
        lease = self._leases.pop(lease_id)
        self._apply([Delete(k) for k in sorted(lease.keys)])

    # used by MemoryWatch, under self._cond
    def _events_from(self, prefix: str, revision: int) -> list[Event]:
        if revision < self._compacted:
            raise StoreCompacted(f"the watch on {prefix or '(everything)'} needs revision {revision}, but the store "
                                 f"keeps history only from revision {self._compacted} on; re-read everything")
        return [e for e in self._history if e.revision >= revision and e.key.startswith(prefix)]


class MemoryWatch:
    def __init__(self, store: MemoryClusterStore, prefix: str, start_revision: int) -> None:
        self._store = store
        self._prefix = prefix
        self._next = start_revision
        self._cancelled = False

    def next(self, timeout: float) -> list[Event]:
        store = self._store
        deadline = time.monotonic() + max(timeout, 0.0)
        with store._cond:
            while True:
                store._check()
                if self._cancelled:
                    return []
                store.expire()  # on a real clock, leases run out while nobody calls the store
                events = store._events_from(self._prefix, self._next)
                if events:
                    self._next = events[-1].revision + 1
                    return events
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                store._cond.wait(min(left, 0.1))

    def cancel(self) -> None:
        with self._store._cond:
            self._cancelled = True
            self._store._cond.notify_all()

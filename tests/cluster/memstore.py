"""A minimal in-memory ClusterStore for the control plane's tests (a stand-in until the etcd
branch ships `wirework.testing`'s store with a controllable clock; then this file goes).

Leases expire by a clock the test moves (`advance`); `down = True` makes every call raise
StoreUnavailable; `compact()` makes open watches raise StoreCompacted.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from wirework.errors import StoreCompacted, StoreUnavailable
from wirework.store.base import Compare, Delete, Entry, Event, Op, Put


class MemWatch:
    def __init__(self, store: MemStore, prefix: str, start: int) -> None:
        self.store, self.prefix, self.pos, self.cancelled = store, prefix, start, False

    def next(self, timeout: float) -> list[Event]:
        with self.store.cond:
            self.store.cond.wait_for(lambda: self._ready() or self.store.down, timeout)
            self.store.check()
            if self.pos < self.store.compacted:
                raise StoreCompacted("watch start revision was compacted")
            out = [e for e in self.store.events if e.revision >= self.pos and e.key.startswith(self.prefix)]
            self.pos = self.store.rev + 1
            return out

    def _ready(self) -> bool:
        return self.store.rev >= self.pos or self.pos < self.store.compacted

    def cancel(self) -> None:
        self.cancelled = True


class MemStore:
    def __init__(self) -> None:
        self.kv: dict[str, tuple[Any, int, int]] = {}  # key -> (value, revision, lease)
        self.rev = 1
        self.events: list[Event] = []
        self.leases: dict[int, tuple[float, float]] = {}  # id -> (ttl, expires)
        self.now = 0.0
        self.next_lease = 100
        self.down = False
        self.compacted = 0
        self.cond = threading.Condition()
        self.calls = 0

    # -- test controls ------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        with self.cond:
            self.now += seconds
            self._expire()
            self.cond.notify_all()

    def compact(self) -> None:
        with self.cond:
            self.compacted = self.rev + 1
            self.cond.notify_all()

    def set_down(self, down: bool) -> None:
        with self.cond:
            self.down = down
            self.cond.notify_all()

    def check(self) -> None:
        self.calls += 1
        if self.down:
            raise StoreUnavailable("the test store is down")

    # -- Store ----------------------------------------------------------------------------
    def get(self, key: str) -> Entry | None:
        with self.cond:
            self.check()
            found = self.kv.get(key)
            return Entry(key, copy.deepcopy(found[0]), found[1]) if found else None

    def scan(self, prefix: str) -> list[Entry]:
        with self.cond:
            self.check()
            return [Entry(k, copy.deepcopy(v[0]), v[1]) for k, v in sorted(self.kv.items()) if k.startswith(prefix)]

    def put(self, key: str, value: Any) -> int:
        self.txn([], [Put(key, value)])
        return self.rev

    def create(self, key: str, value: Any) -> bool:
        return self.txn([Compare(key, 0)], [Put(key, value)])

    def delete(self, key: str) -> bool:
        with self.cond:
            present = key in self.kv
        return self.txn([], [Delete(key)]) and present

    def txn(self, compares: list[Compare], ops: list[Op]) -> bool:
        with self.cond:
            self.check()
            if any((self.kv[c.key][1] if c.key in self.kv else 0) != c.revision for c in compares):
                return False
            self.rev += 1
            for op in ops:
                if isinstance(op, Put):
                    if op.lease and op.lease not in self.leases:
                        raise StoreUnavailable(f"lease {op.lease} not found")
                    self.kv[op.key] = (copy.deepcopy(op.value), self.rev, op.lease)
                    self.events.append(Event(op.key, copy.deepcopy(op.value), self.rev))
                elif op.key in self.kv:
                    del self.kv[op.key]
                    self.events.append(Event(op.key, None, self.rev))
            self.cond.notify_all()
            return True

    def close(self) -> None:
        pass

    # -- ClusterStore --------------------------------------------------------------------
    def grant(self, ttl: float) -> int:
        with self.cond:
            self.check()
            self.next_lease += 1
            self.leases[self.next_lease] = (ttl, self.now + ttl)
            return self.next_lease

    def refresh(self, lease: int) -> bool:
        with self.cond:
            self.check()
            if lease not in self.leases:
                return False
            ttl, _ = self.leases[lease]
            self.leases[lease] = (ttl, self.now + ttl)
            return True

    def revoke(self, lease: int) -> None:
        with self.cond:
            self.check()
            self._drop(lease)

    def revision(self) -> int:
        with self.cond:
            self.check()
            return self.rev

    def watch(self, prefix: str, start_revision: int) -> MemWatch:
        with self.cond:
            self.check()
            return MemWatch(self, prefix, start_revision)

    def _expire(self) -> None:
        for lease, (_, expires) in list(self.leases.items()):
            if expires <= self.now:
                self._drop(lease)

    def _drop(self, lease: int) -> None:
        if self.leases.pop(lease, None) is None:
            return
        gone = [k for k, v in self.kv.items() if v[2] == lease]
        if gone:
            self.rev += 1
            for key in gone:
                del self.kv[key]
                self.events.append(Event(key, None, self.rev))
            self.cond.notify_all()

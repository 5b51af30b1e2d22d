"""The store contract, one set of tests run on every implementation.

`Store` (get, scan, put, create, delete, txn, revisions): memory, SQLite and real etcd.
`ClusterStore` (leases, revision, watches, compaction): memory and real etcd.
The memory store's clock is advanced by hand; on etcd the same tests wait for the condition
with a deadline (etcd expires leases on its own clock).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from wirework.errors import InvalidInput, LeaseExpired, StoreCompacted
from wirework.store.base import Compare, Delete, Event, Put
from wirework.store.sqlite import SqliteStore
from wirework.testing import ManualClock, MemoryClusterStore


@dataclass
class Harness:
    kind: str
    store: Any
    peer: Callable[[], Any]  # a second client on the same data
    clock: ManualClock | None = None

    def after(self, seconds: float, condition: Callable[[], bool]) -> bool:
        """Let `seconds` pass on the store's clock, then wait (deadline) for condition."""
        if self.clock is not None:
            self.clock.advance(seconds)
            return condition()
        deadline = time.monotonic() + seconds + 5.0
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.05)
        return condition()


def _harness(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if kind == "memory":
        clock = ManualClock()
        store = MemoryClusterStore(clock)
        yield Harness(kind, store, lambda: store, clock)
    elif kind == "sqlite":
        path = str(tmp_path / "state.db")
        yield Harness(kind, SqliteStore(path), lambda: SqliteStore(path))
    else:
        from wirework.store import open_store, store_config

        store = request.getfixturevalue("etcd_store")
        config = store_config(request.getfixturevalue("etcd_server").url, prefix=store.prefix, env={})
        yield Harness(kind, store, lambda: open_store(config))


@pytest.fixture(params=["memory", "sqlite", "etcd"])
def h(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    yield from _harness(request.param, request, tmp_path)


@pytest.fixture(params=["memory", "etcd"])
def c(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    yield from _harness(request.param, request, tmp_path)


def collect(watch: Any, count: int, timeout: float = 5.0) -> list[Event]:
    events: list[Event] = []
    deadline = time.monotonic() + timeout
    while len(events) < count and time.monotonic() < deadline:
        events += watch.next(0.2)
    return events


# -- Store -----------------------------------------------------------------------------------
def test_put_get_revisions(h: Harness) -> None:
    s = h.store
    assert s.get("a") is None
    r1 = s.put("a", {"x": 1})
    r2 = s.put("b", [1, "two", None, True, 2.5])
    assert r2 > r1
    assert s.get("a").value == {"x": 1} and s.get("a").revision == r1
    assert s.get("b").value == [1, "two", None, True, 2.5]
    r3 = s.put("a", "é ünïcode ✓")
    assert s.get("a").value == "é ünïcode ✓" and s.get("a").revision == r3 > r2


def test_create_if_absent(h: Harness) -> None:
    s = h.store
    assert s.create("k", 1) is True
    assert s.create("k", 2) is False
    assert s.get("k").value == 1


def test_txn_all_or_nothing(h: Harness) -> None:
    s = h.store
    s.put("a", 1)
    rev = s.get("a").revision
    assert s.txn([Compare("a", rev), Compare("new", 0)], [Put("a", 2), Put("new", 3)])
    assert s.get("a").value == 2 and s.get("a").revision == s.get("new").revision > rev
    # one failing compare: nothing at all is applied
    assert not s.txn([Compare("new", 0)], [Put("a", 9), Delete("new"), Put("other", 1)])
    assert not s.txn([Compare("a", rev)], [Put("a", 9)])
    assert s.get("a").value == 2 and s.get("new").value == 3 and s.get("other") is None
    assert s.txn([Compare("a", s.get("a").revision)], [Delete("new")]) and s.get("new") is None


def test_delete(h: Harness) -> None:
    s = h.store
    s.put("d", 1)
    assert s.delete("d") is True
    assert s.delete("d") is False and s.get("d") is None


def test_scan_by_prefix_in_key_order(h: Harness) -> None:
    s = h.store
    for key in ("att/h1/2", "att/h1/1", "att/h10/3", "att/h2/x", "ip/-/x"):
        s.put(key, key)
    assert [e.key for e in s.scan("att/h1/")] == ["att/h1/1", "att/h1/2"]
    assert [e.key for e in s.scan("att/")] == ["att/h1/1", "att/h1/2", "att/h10/3", "att/h2/x"]
    assert len(s.scan("")) == 5 and s.scan("nothing/") == []


def test_revisions_never_repeat(h: Harness) -> None:
    s = h.store
    s.put("k", 1)
    first = s.get("k").revision
    s.delete("k")
    s.put("k", 1)
    assert s.get("k").revision > first


def test_racing_creates_have_one_winner(h: Harness) -> None:
    """Two clients race create() on the same keys: each key has exactly one winner."""
    rounds = 60
    clients = [h.store, h.peer()]
    won: list[list[int]] = [[], []]

    def race(i: int) -> None:
        for n in range(rounds):
            if clients[i].create(f"slot/{n}", i):
                won[i].append(n)

    threads = [threading.Thread(target=race, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(won[0] + won[1]) == list(range(rounds))
    assert all(h.store.get(f"slot/{n}").value == (0 if n in won[0] else 1) for n in range(rounds))
    if clients[1] is not h.store:
        clients[1].close()


# -- ClusterStore ----------------------------------------------------------------------------
def test_revision_and_watch_from_now(c: Harness) -> None:
    s = c.store
    s.put("w/old", 1)
    assert s.revision() == s.get("w/old").revision
    w = s.watch("w/", s.revision() + 1)
    assert w.next(0.1) == []
    rev = s.put("w/new", 2)
    assert collect(w, 1) == [Event("w/new", 2, rev)]
    w.cancel()


def test_watch_replays_history_in_order(c: Harness) -> None:
    s = c.store
    start = s.put("h/a", 1)
    s.put("other/x", 0)
    s.txn([], [Put("h/b", 2), Delete("h/a")])
    s.delete("h/b")
    w = s.watch("h/", start)
    events = collect(w, 4)
    assert [(e.key, e.value, e.deleted) for e in events] == [
        ("h/a", 1, False), ("h/b", 2, False), ("h/a", None, True), ("h/b", None, True)]
    assert events[1].revision == events[2].revision  # one txn, one revision
    assert [e.revision for e in events] == sorted(e.revision for e in events)
    assert w.next(0.1) == []
    w.cancel()


def test_leases_refresh_and_expiry(c: Harness) -> None:
    s = c.store
    lease = s.grant(2)  # 2 s: a loaded machine may take over 1 s between grant and refresh
    assert lease != 0
    s.put("l/a", 1, lease=lease)
    assert s.create("l/b", 2, lease=lease)
    s.put("l/keep", 3)
    w = s.watch("l/", s.revision() + 1)
    assert s.refresh(lease)
    assert c.after(2.5, lambda: s.get("l/a") is None)
    assert s.get("l/b") is None and s.get("l/keep").value == 3
    assert {(e.key, e.deleted) for e in collect(w, 2)} == {("l/a", True), ("l/b", True)}
    assert s.refresh(lease) is False
    with pytest.raises(LeaseExpired):
        s.txn([], [Put("l/c", 1, lease=lease), Put("l/d", 1)])
    assert s.get("l/c") is None and s.get("l/d") is None  # nothing half-written
    w.cancel()


def test_revoke(c: Harness) -> None:
    s = c.store
    lease = s.grant(30)
    s.put("r/a", 1, lease=lease)
    s.revoke(lease)
    assert s.get("r/a") is None and s.refresh(lease) is False
    s.revoke(lease)  # unknown lease: ignored


def test_compacted_history_raises(c: Harness) -> None:
    s = c.store
    first = s.put("c/a", 1)
    s.put("c/a", 2)
    last = s.put("c/a", 3)
    s.compact(last)
    with pytest.raises(StoreCompacted):
        collect(s.watch("c/", first), 1)
    assert [e.value for e in collect(s.watch("c/", last), 1)] == [3]


def test_refused_inputs(c: Harness) -> None:
    s = c.store
    with pytest.raises(InvalidInput):
        s.txn([], [Put("x", 1), Delete("x")])
    with pytest.raises(InvalidInput):
        s.put("x", None)
    assert s.get("x") is None


def test_cancelled_watch_returns_nothing(c: Harness) -> None:
    s = c.store
    w = s.watch("z/", s.revision() + 1)
    w.cancel()
    s.put("z/a", 1)
    assert w.next(0.1) == []

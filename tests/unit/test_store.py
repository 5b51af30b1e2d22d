from __future__ import annotations

import multiprocessing
from pathlib import Path

from wirework.store.base import Compare, Delete, Put
from wirework.store.sqlite import SqliteStore


def test_create_if_absent_and_cas(tmp_path: Path) -> None:
    s = SqliteStore(str(tmp_path / "s.db"))
    assert s.create("a", {"x": 1}) and not s.create("a", {"x": 2})
    e = s.get("a")
    assert e is not None and e.value == {"x": 1}
    assert s.txn([Compare("a", e.revision)], [Put("a", 2), Put("b", 3)])
    assert not s.txn([Compare("a", e.revision)], [Put("a", 9), Delete("b")])
    assert [x.key for x in s.scan("")] == ["a", "b"] and s.get("a").value == 2  # type: ignore[union-attr]
    assert s.delete("b") and not s.delete("b")


def test_revisions_never_repeat_after_delete(tmp_path: Path) -> None:
    s = SqliteStore(str(tmp_path / "s.db"))
    s.put("k", 1)
    first = s.get("k").revision  # type: ignore[union-attr]
    s.delete("k")
    s.put("k", 1)
    assert s.get("k").revision > first  # type: ignore[union-attr]


def test_scan_is_by_prefix(tmp_path: Path) -> None:
    s = SqliteStore(str(tmp_path / "s.db"))
    for key in ("att/-/1", "att/-/2", "att/h1/3", "ip/-/x"):
        s.put(key, key)
    assert [e.key for e in s.scan("att/-/")] == ["att/-/1", "att/-/2"]


def _claim(path: str, n: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    s = SqliteStore(path)
    won = [i for i in range(n) if s.create(f"slot/{i}", True)]
    out.put(won)


def test_concurrent_processes_never_both_win(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    SqliteStore(path).close()
    q: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    procs = [multiprocessing.Process(target=_claim, args=(path, 200, q)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [q.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    claimed = [i for r in results for i in r]
    assert sorted(claimed) == list(range(200))

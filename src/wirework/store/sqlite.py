"""SQLite implementation of the store: one file, WAL, one transaction per change.

BEGIN IMMEDIATE takes the write lock up front, so concurrent wirework processes serialise
their allocations instead of failing half-way; a global revision counter gives every write
an etcd-like revision for compare-and-swap.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from wirework.errors import StateError
from wirework.store.base import Compare, Delete, Entry, Op, Put

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, revision INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY CHECK (id = 1), revision INTEGER NOT NULL);
INSERT OR IGNORE INTO counter (id, revision) VALUES (1, 0);
"""


class SqliteStore:
    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        if path != ":memory:":
            os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode stays consistent after a crash; it only risks the last commits
            # on power loss, and the kernel state those commits describe is gone then too.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StateError(f"cannot open the state store {path}: {exc}; check the path and its permissions") from None

    def get(self, key: str) -> Entry | None:
        with self._lock:
            row = self._db.execute("SELECT value, revision FROM kv WHERE key = ?", (key,)).fetchone()
        return Entry(key, json.loads(row[0]), row[1]) if row else None

    def scan(self, prefix: str) -> list[Entry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key, value, revision FROM kv WHERE key >= ? AND key < ? ORDER BY key",
                (prefix, prefix + "\U0010ffff"),
            ).fetchall()
        return [Entry(k, json.loads(v), r) for k, v, r in rows]

    def put(self, key: str, value: Any) -> int:
        with self._write() as rev:
            self._put(key, value, rev)
        return rev

    def create(self, key: str, value: Any) -> bool:
        return self.txn([Compare(key, 0)], [Put(key, value)])

    def delete(self, key: str) -> bool:
        with self._write():
            cur = self._db.execute("DELETE FROM kv WHERE key = ?", (key,))
        return cur.rowcount > 0

    def txn(self, compares: list[Compare], ops: list[Op]) -> bool:
        with self._write() as rev:
            if not all(self._holds(cmp) for cmp in compares):
                raise _Abort
            for op in ops:
                if isinstance(op, Put):
                    if op.lease:
                        raise StateError("the SQLite store has no leases; use an etcd store (--store etcd://HOST:PORT)")
                    self._put(op.key, op.value, rev)
                elif isinstance(op, Delete):
                    self._db.execute("DELETE FROM kv WHERE key = ?", (op.key,))
            return True
        return False  # reached only when _Abort was raised and swallowed

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _holds(self, cmp: Compare) -> bool:
        row = self._db.execute("SELECT revision FROM kv WHERE key = ?", (cmp.key,)).fetchone()
        return (row[0] if row else 0) == cmp.revision

    def _put(self, key: str, value: Any, rev: int) -> None:
        self._db.execute(
            "INSERT INTO kv (key, value, revision) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, revision = excluded.revision",
            (key, json.dumps(value, sort_keys=True), rev),
        )

    @contextmanager
    def _write(self) -> Iterator[int]:
        """BEGIN IMMEDIATE ... COMMIT under a fresh global revision; _Abort rolls back quietly."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("UPDATE counter SET revision = revision + 1 WHERE id = 1")
                rev: int = db.execute("SELECT revision FROM counter WHERE id = 1").fetchone()[0]
                yield rev
            except _Abort:
                db.execute("ROLLBACK")
                return
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")


class _Abort(Exception):
    pass

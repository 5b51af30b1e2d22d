"""State stores: the interface (`base`), SQLite on one host, and a registry by name."""

from __future__ import annotations

import os

from wirework.errors import InvalidInput
from wirework.store.base import Compare, Delete, Entry, Put, Store

DEFAULT_STATE_DIR = "/var/lib/wirework"
STATE_DIR_ENV = "WIREWORK_STATE_DIR"


def state_dir(explicit: str | None = None) -> str:
    return explicit or os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR


def open_store(kind: str = "sqlite", *, state_dir_path: str | None = None) -> Store:
    """Open a store by name; an unknown name lists the known ones."""
    if kind == "sqlite":
        from wirework.store.sqlite import SqliteStore

        return SqliteStore(os.path.join(state_dir(state_dir_path), "state.db"))
    if kind == "memory":
        from wirework.store.sqlite import SqliteStore

        return SqliteStore(":memory:")
    raise InvalidInput(what="store", value=kind, why="known stores: sqlite, memory")


__all__ = ["Compare", "Delete", "Entry", "Put", "Store", "open_store", "state_dir"]

"""State stores: the interface (`base`), SQLite on one host, etcd across hosts, chosen by URL.

    open_store()                              # this host's SQLite store (<state dir>/state.db)
    open_store("etcd://10.0.0.5:2379")        # any store by URL (see store.config)
    open_cluster_store(store_config())        # the shared store named by --store / WIREWORK_STORE

`open_store` is the one place a URL becomes a store; an unknown scheme lists the known ones.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, cast

from wirework.errors import InvalidInput
from wirework.store.base import ClusterStore, Compare, Delete, Entry, Event, Put, Store, Watch
from wirework.store.config import StoreConfig, store_config

DEFAULT_STATE_DIR = "/var/lib/wirework"
STATE_DIR_ENV = "WIREWORK_STATE_DIR"


def state_dir(explicit: str | None = None) -> str:
    return explicit or os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR


def open_store(url: str | StoreConfig | None = None, *, state_dir_path: str | None = None) -> Store:
    """Open a store by URL (None: this host's SQLite store in the state dir).

    `sqlite:` is `<state dir>/state.db`, `sqlite:/path/file.db` that file; `memory:` a fresh
    in-memory ClusterStore; `etcd://`/`etcds://` an EtcdStore (see `store.etcd`).
    """
    config = url if isinstance(url, StoreConfig) else store_config(url or "sqlite:", env={})
    scheme = config.scheme
    if scheme == "sqlite":
        from wirework.store.sqlite import SqliteStore

        return SqliteStore(config.location or os.path.join(state_dir(state_dir_path), "state.db"))
    if scheme == "memory":
        from wirework.store.memory import MemoryClusterStore

        return MemoryClusterStore()
    if scheme in ("etcd", "etcds"):
        from wirework.store.etcd import EtcdStore
        from wirework.store.etcd_conn import EtcdAccess

        access = EtcdAccess(config.endpoints, scheme == "etcds", config.ca, config.cert, config.key,
                            config.user, config.password, config.timeout)
        return EtcdStore(access, prefix=config.prefix)
    raise AssertionError(f"store scheme {scheme} passed the check but has no opener")


def open_cluster_store(config: str | StoreConfig) -> ClusterStore:
    """The store several hosts share (leases, watches): etcd, or memory in tests."""
    config = config if isinstance(config, StoreConfig) else store_config(config, env={})
    if not config.shared:
        raise InvalidInput(what="store", value=config.url,
                           why="cluster networks need a store shared by the hosts: --store etcd://HOST:PORT[,...] "
                               "(or WIREWORK_STORE)")
    return cast(ClusterStore, open_store(config))


def open_stores(store: str | StoreConfig | Store | None, *, state_dir_path: str | None = None,
                ) -> tuple[StoreConfig, Store, ClusterStore | None]:
    """A session's stores: (config, this host's store, the shared store if already open).

    `store` is a URL or StoreConfig (None: from WIREWORK_STORE*), or a store object. This host's
    store is SQLite (in the state dir, or the file of a `sqlite:PATH` URL); with `memory:`, or a
    ClusterStore object, one store serves as both. The shared one (etcd) is opened on first use.
    """
    if store is not None and not isinstance(store, (str, StoreConfig)):
        if is_cluster_store(store):
            return StoreConfig(url="memory:"), store, cast(ClusterStore, store)
        return StoreConfig(), store, None
    config = store if isinstance(store, StoreConfig) else store_config(store)
    if config.scheme == "sqlite":
        return config, open_store(config, state_dir_path=state_dir_path), None
    if config.scheme == "memory":
        shared = open_cluster_store(config)
        return config, shared, shared
    return config, open_store(state_dir_path=state_dir_path), None


def is_cluster_store(store: Store) -> bool:
    return all(callable(getattr(store, name, None)) for name in ("grant", "refresh", "revoke", "revision", "watch"))


__all__ = [
    "ClusterStore", "Compare", "Delete", "Entry", "Event", "Put", "Store", "StoreConfig", "Watch",
    "is_cluster_store", "open_cluster_store", "open_store", "open_stores", "state_dir", "store_config",
]


if TYPE_CHECKING:  # mypy proves every implementation fits its protocol
    from wirework.store.etcd import EtcdStore
    from wirework.store.etcd_watch import EtcdWatch
    from wirework.store.memory import MemoryClusterStore, MemoryWatch
    from wirework.store.sqlite import SqliteStore

    def _etcd_fits(s: EtcdStore, w: EtcdWatch) -> tuple[ClusterStore, Watch]:
        return s, w

    def _memory_fits(s: MemoryClusterStore, w: MemoryWatch) -> tuple[ClusterStore, Watch]:
        return s, w

    def _sqlite_fits(s: SqliteStore) -> Store:
        return s

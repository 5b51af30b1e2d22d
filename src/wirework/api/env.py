"""The few adapter services the CLI needs outside a session, so that it imports no adapter.

Each is a thin pass-through: where state lives, which shared store `--store` names, whether a named namespace is still the one a
cached session was opened on, starting a detached helper process, running a command inside a
lab node.
"""

from __future__ import annotations

import os

from wirework.kernel import labenv, proc
from wirework.kernel.netns import netns_path
from wirework.store import state_dir as _state_dir
from wirework.store.config import StoreConfig
from wirework.store.config import store_config as _store_config


def state_dir(explicit: str | None = None) -> str:
    """The state store directory: `explicit`, else $WIREWORK_STATE_DIR, else the default."""
    return _state_dir(explicit)


def store_config(url: str | None = None, *, prefix: str | None = None, ca: str | None = None,
                 cert: str | None = None, key: str | None = None, user: str | None = None,
                 password_file: str | None = None) -> StoreConfig:
    """The shared store's configuration: these --store* values, then WIREWORK_STORE*, then defaults."""
    return _store_config(url, prefix=prefix, ca=ca, cert=cert, key=key, user=user, password_file=password_file)


def netns_identity(netns: str | None) -> str:
    """device:inode of the namespace (the real host's when None); "" when it is gone."""
    path = netns_path(netns) if netns else "/proc/self/ns/net"
    try:
        st = os.stat(path)
    except OSError:
        return ""
    return f"{st.st_dev}:{st.st_ino}"


def spawn_detached(argv: list[str], *, env: dict[str, str] | None = None, log: str | None = None) -> int:
    """Start a process in its own session that outlives this one (the uplink watchdog)."""
    return proc.spawn_detached(argv, env=env, log=log)


def run_interactive(ns_path: str, argv: list[str]) -> int:
    """Run a command inside a namespace with the terminal attached; its exit status."""
    return labenv.run_interactive(ns_path, argv)

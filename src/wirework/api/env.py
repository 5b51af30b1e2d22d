"""The few adapter services the CLI needs outside a session, so that it imports no adapter.

Each is a thin pass-through: where state lives, which shared store `--store` names, whether a named namespace is still the one a
cached session was opened on, starting a detached helper process, running a command inside a
lab node.
"""

from __future__ import annotations

import os

from wirework.errors import NotFound, did_you_mean
from wirework.kernel import labenv, proc
from wirework.kernel.netns import netns_path
from wirework.store import state_dir as _state_dir
from wirework.store.config import StoreConfig
from wirework.store.config import store_config as _store_config


def state_dir(explicit: str | None = None) -> str:
    """The state store directory: `explicit`, else $WIREWORK_STATE_DIR, else the default."""
    return _state_dir(explicit)


def host_settings(netns: str | None, state_dir_path: str | None) -> tuple[str | None, str | None]:
    """(state dir, OVS database socket) of a session for --netns/--state-dir.

    A namespace that does not exist is refused here, before anything else ("no such
    namespace", naming near names). A lab host (`wwl-<lab>-<host>` of a lab indexed in the
    state dir) is a host like any other: its own state dir and its private Open vSwitch, as
    the lab made it. Anything else keeps the state dir given and the system's OVS.
    """
    if not netns:
        return state_dir_path, None
    if "/" in netns or not os.path.exists(netns_path(netns)):
        known = os.listdir("/run/netns") if os.path.isdir("/run/netns") else []
        raise NotFound(f"no such network namespace {netns!r}{did_you_mean(netns, known)}")
    if not netns.startswith("wwl-"):  # lab.resolve.NS_PREFIX: not a lab's (and no lab import)
        return state_dir_path, None
    from wirework.api.lab import lab_manager

    manager = lab_manager(state_dir_path)
    try:
        for lab in manager.lab_names():
            names = manager.names(lab)
            host = netns.removeprefix(names.prefix)
            if netns.startswith(names.prefix) and os.path.isdir(names.host_state(host)):
                sock = names.ovs_socket(host)
                return names.host_state(host), sock if os.path.exists(sock) else None
    finally:
        manager.close()
    return state_dir_path, None


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


def run_interactive(ns_path: str, argv: list[str], env: dict[str, str] | None = None) -> int:
    """Run a command inside a namespace with the terminal attached; its exit status."""
    return labenv.run_interactive(ns_path, argv, env)


def run_captured(ns_path: str, argv: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run a command inside a namespace, its output captured: (exit status, stdout, stderr)."""
    return labenv.run_captured(ns_path, argv, env)

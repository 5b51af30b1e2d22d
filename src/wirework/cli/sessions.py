"""API sessions for CLI commands: one per (netns, state dir, OVS db), kept open in the service.

In a one-shot CLI process `get_session` makes a fresh session and registers its closing with
the running request, so every netlink socket and its asyncio loop is closed before the process
exits, on every exit path (an unclosed loop collected at interpreter exit printed "Exception
ignored in BaseEventLoop.__del__" after one run in ten).

In the resident service (`KEEP_SESSIONS`) the same session, with its netlink sockets and store
connection, serves later requests. A session's netlink sockets belong to one thread: pyroute2
opens a new socket per calling thread, in that thread's current namespace, so a guest socket
used from another thread reads the wrong namespace. The service therefore runs everything that
touches a session on the one thread ("lane") of its host namespace (`RUN_ON`), and a request
also holds its session's lock until it ends. `sweep()` drops sessions whose namespace was
deleted (their open sockets would keep the dead namespace alive) or that sat idle.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from wirework.cli.request import current

Key = tuple[str | None, str, str | None]
KEEP_SESSIONS = False  # set by the service
#: Runs a function on the thread that owns the sessions of a host namespace; returns a future
#: (or the result). The service routes to its lanes; by default: here, now.
def _run_here(netns: str | None, fn: Callable[[], Any]) -> Any:
    return fn()


RUN_ON: Callable[[str | None, Callable[[], Any]], Any] = _run_here


class _Entry:
    def __init__(self, session: Any, identity: str) -> None:
        self.session = session
        self.identity = identity
        self.lock = threading.RLock()
        self.last_used = time.monotonic()


_SESSIONS: dict[Key, _Entry] = {}
_GUARD = threading.Lock()


def get_session(netns: str | None, state_dir: str | None) -> Any:
    from wirework.api import Wirework
    from wirework.store import state_dir as resolve_state_dir

    request = current()
    docker_host = request.getenv("DOCKER_HOST") or ""
    key: Key = (netns, resolve_state_dir(state_dir), request.getenv("WIREWORK_OVS_DB") or None)
    if not KEEP_SESSIONS:
        session = Wirework(netns=netns, state_dir=key[1], ovs_db=key[2], docker_socket=docker_host or None)
        request.cleanups.append(session.close)
        return session
    while True:
        entry = _entry(key, netns)
        entry.lock.acquire()
        with _GUARD:
            if _SESSIONS.get(key) is entry:
                break
        entry.lock.release()  # swept or replaced while this request waited for it: take the new one
    request.cleanups.append(lambda: _release(entry))
    entry.session.refresh_environment()
    entry.session.docker = _docker_client(docker_host)  # this request's DOCKER_HOST, not the last one's
    return entry.session


def _entry(key: Key, netns: str | None) -> _Entry:
    from wirework.api import Wirework

    identity = _identity(netns)
    with _GUARD:
        entry = _SESSIONS.get(key)
        if entry is not None and entry.identity == identity:
            return entry
        stale = entry
        entry = _Entry(Wirework(netns=netns, state_dir=key[1], ovs_db=key[2]), identity)
        _SESSIONS[key] = entry
    if stale is not None:
        _retire(stale)  # the namespace was re-created: its old sockets point at a dead one
    return entry


def _docker_client(host: str) -> Any:
    from wirework.guests.docker import DEFAULT_SOCKET, DockerClient

    return DockerClient(host or DEFAULT_SOCKET)


def _release(entry: _Entry) -> None:
    entry.last_used = time.monotonic()
    entry.lock.release()


def _retire(entry: _Entry) -> None:
    with entry.lock:  # waits for a request still using it
        entry.session.close()


def _identity(netns: str | None) -> str:
    from wirework.kernel.netns import netns_path

    path = netns_path(netns) if netns else "/proc/self/ns/net"
    try:
        st = os.stat(path)
    except OSError:
        return ""
    return f"{st.st_dev}:{st.st_ino}"


def sweep(idle_after: float, log: Callable[[str], None] = lambda _: None) -> None:
    """Close sessions whose namespace is gone or re-created, and those idle for `idle_after` s."""
    with _GUARD:
        candidates = list(_SESSIONS.items())
    for key, entry in candidates:
        RUN_ON(key[0], lambda key=key, entry=entry: _sweep_one(key, entry, idle_after, log))  # type: ignore[misc]


def _sweep_one(key: Key, entry: _Entry, idle_after: float, log: Callable[[str], None]) -> None:
    if not entry.lock.acquire(blocking=False):
        return  # in use: not idle, and its request will notice a dead namespace itself
    try:
        gone = _identity(key[0]) != entry.identity
        if not gone and time.monotonic() - entry.last_used < idle_after:
            return
        with _GUARD:
            if _SESSIONS.get(key) is entry:
                del _SESSIONS[key]
        entry.session.close()
        log(f"dropped session netns={key[0] or '-'} state={key[1]}: {'namespace deleted' if gone else 'idle'}")
    finally:
        entry.lock.release()


def count() -> int:
    with _GUARD:
        return len(_SESSIONS)


def close_all() -> None:
    with _GUARD:
        entries = list(_SESSIONS.items())
        _SESSIONS.clear()
    pending = [RUN_ON(key[0], lambda entry=entry: _retire(entry)) for key, entry in entries]  # type: ignore[misc]
    for future in pending:
        if hasattr(future, "result"):
            future.result()


def on_each_session(action: Callable[[Any], None]) -> None:
    """Run `action(session)` for every session plus the real host's, each on its lane under its lock."""
    _entry((None, _default_state_dir(), None), None)
    with _GUARD:
        entries = list(_SESSIONS.items())

    def locked(entry: _Entry) -> None:
        with entry.lock:
            action(entry.session)

    for key, entry in entries:
        RUN_ON(key[0], lambda entry=entry: locked(entry))  # type: ignore[misc]


def _default_state_dir() -> str:
    from wirework.store import state_dir as resolve_state_dir

    return resolve_state_dir(None)

"""API sessions for CLI commands: one per (netns, state dir, OVS db, store), kept open in the service.

A lab host (`--netns wwl-LAB-HOST`) gets its own state dir and Open vSwitch (`api.env.host_settings`).

In a one-shot CLI process `get_session` makes a fresh session and registers its closing with
the running request, so every netlink socket and its asyncio loop is closed before the process
exits, on every exit path (an unclosed loop collected at interpreter exit printed "Exception
ignored in BaseEventLoop.__del__" after one run in ten).

In the resident service (`KEEP_SESSIONS`) the same session, with its netlink sockets and store
connections, serves later requests; each request hands it its own environment first
(`Wirework.refresh_environment`: Docker host, address pools, fault injection), and the key
holds what the environment picks at opening (state dir, OVS db, shared store). A session's
netlink sockets belong to one thread: pyroute2 opens a new socket per calling thread, in that
thread's current namespace, so a guest socket used from another thread reads the wrong
namespace. The service therefore runs everything that touches a session on the one thread
("lane") of its host namespace (`RUN_ON`): requests, and the background jobs
(`on_each_session`: Docker-event gc, DHCP lease renewal), and a request also holds its
session's lock until it ends. `sweep()` drops sessions whose namespace was deleted (their open
sockets would keep the dead namespace alive) or that sat idle, unless a background job pinned
them (a host whose DHCP leases the service renews).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from wirework.cli.request import current

#: (netns, state dir, OVS db, store configuration identity)
Key = tuple[str | None, str, str | None, tuple[str, ...]]
KEEP_SESSIONS = False  # set by the service


#: Runs a function on the thread that owns the sessions of a host namespace; returns a future
#: (or the result). The service routes to its lanes; by default: here, now.
def _run_here(netns: str | None, fn: Callable[[], Any]) -> Any:
    return fn()


def _any_thread(netns: str | None) -> bool:
    return True


RUN_ON: Callable[[str | None, Callable[[], Any]], Any] = _run_here
#: Whether the calling thread is the one RUN_ON uses for a host namespace (the service's lanes).
ON_LANE: Callable[[str | None], bool] = _any_thread


class _Entry:
    def __init__(self, session: Any, identity: str) -> None:
        self.session = session
        self.identity = identity
        self.lock = threading.RLock()
        self.last_used = time.monotonic()
        #: Background jobs queued on the lane and not started yet (one of each kind is enough).
        self.queued: set[str] = set()
        #: Background jobs that need this session kept open (they answered True last time).
        self.pinned: set[str] = set()
        #: When each background job last finished here (a request since then may have changed its answer).
        self.checked: dict[str, float] = {}


_SESSIONS: dict[Key, _Entry] = {}
_GUARD = threading.Lock()


def session_key(netns: str | None, state_dir: str | None, store: Any, env: Mapping[str, str]) -> Key:
    """What tells sessions apart, read from `env` (the request's) where the caller gave nothing.
    A lab host has its own state dir and Open vSwitch; a namespace that does not exist is refused."""
    from wirework.api.env import host_settings, store_config
    from wirework.api.env import state_dir as resolve_state_dir

    config = store if store is not None else store_config(env=env)
    host_state, lab_ovs = host_settings(netns, resolve_state_dir(state_dir, env=env))
    return (netns, resolve_state_dir(host_state, env=env), env.get("WIREWORK_OVS_DB") or lab_ovs, config.identity())


def get_session(netns: str | None, state_dir: str | None, store: Any = None) -> Any:
    """`store`: a wirework.store.StoreConfig (None: from the request's WIREWORK_STORE* variables)."""
    from wirework.api import Wirework
    from wirework.api.env import store_config

    request = current()
    config = store if store is not None else store_config(env=request.env)
    key = session_key(netns, state_dir, config, request.env)
    if not KEEP_SESSIONS:
        session = Wirework(netns=netns, state_dir=key[1], ovs_db=key[2], store=config, env=request.env)
        request.cleanups.append(session.close)
        return session
    if not ON_LANE(netns):
        # Its sockets would be opened in this thread's namespace, not the host's: a defect of the
        # request routing (service.server._netns_of), never to be papered over.
        raise RuntimeError(f"a session of host namespace {netns or '(the machine)'} was asked for off its lane")
    while True:
        entry = _entry(key, config, request.env)
        entry.lock.acquire()
        with _GUARD:
            if _SESSIONS.get(key) is entry:
                break
        entry.lock.release()  # swept or replaced while this request waited for it: take the new one
    request.cleanups.append(lambda: _release(entry))
    entry.session.refresh_environment(request.env)  # this request's DOCKER_HOST, pools..., not the last one's
    return entry.session


def _entry(key: Key, config: Any, env: Mapping[str, str]) -> _Entry:
    from wirework.api import Wirework

    netns = key[0]
    identity = _identity(netns)
    with _GUARD:
        entry = _SESSIONS.get(key)
        if entry is not None and entry.identity == identity:
            return entry
        stale = entry
        entry = _Entry(Wirework(netns=netns, state_dir=key[1], ovs_db=key[2], store=config, env=env), identity)
        _SESSIONS[key] = entry
    if stale is not None:
        _retire(stale)  # the namespace was re-created: its old sockets point at a dead one
    return entry


def _release(entry: _Entry) -> None:
    entry.last_used = time.monotonic()
    entry.lock.release()


def _retire(entry: _Entry) -> None:
    with entry.lock:  # waits for a request still using it
        entry.session.close()


def _identity(netns: str | None) -> str:
    from wirework.api.env import netns_identity

    return netns_identity(netns)


def sweep(idle_after: float, log: Callable[[str], None] = lambda _: None) -> None:
    """Close sessions whose namespace is gone or re-created, and unpinned ones idle for `idle_after` s."""
    with _GUARD:
        candidates = list(_SESSIONS.items())
    for key, entry in candidates:
        RUN_ON(key[0], lambda key=key, entry=entry: _sweep_one(key, entry, idle_after, log))  # type: ignore[misc]


def _sweep_one(key: Key, entry: _Entry, idle_after: float, log: Callable[[str], None]) -> None:
    if not entry.lock.acquire(blocking=False):
        return  # in use: not idle, and its request will notice a dead namespace itself
    try:
        gone = _identity(key[0]) != entry.identity
        if not gone and (entry.pinned or time.monotonic() - entry.last_used < idle_after):
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


def pinned(job: str) -> int:
    """How many sessions the background job `job` asked to keep, counting those it has not looked
    at since their last request (that request may have given them something to keep)."""
    with _GUARD:
        return sum(1 for entry in _SESSIONS.values()
                   if job in entry.pinned or entry.checked.get(job, float("-inf")) < entry.last_used)


def close_all() -> None:
    with _GUARD:
        entries = list(_SESSIONS.items())
        _SESSIONS.clear()
    pending = [RUN_ON(key[0], lambda entry=entry: _retire(entry)) for key, entry in entries]  # type: ignore[misc]
    for future in pending:
        if hasattr(future, "result"):
            future.result()


def on_each_session(job: str, action: Callable[[Any], bool | None], *, with_host: bool = True,
                    used_within: float | None = None) -> list[Any]:
    """Queue `action(session)` for every session (plus the real host's with `with_host`; only
    those a request used in the last `used_within` seconds, if given), each on its lane under
    its lock, with the service's own environment (no request's). A job already queued for a
    session and not started yet is not queued twice. `action` returning True pins the session
    (the idle sweep keeps it). Returns the futures (or results) of what it queued."""
    if with_host:
        _host_entry()
    since = float("-inf") if used_within is None else time.monotonic() - used_within
    with _GUARD:
        entries = [(key, entry) for key, entry in _SESSIONS.items()
                   if job not in entry.queued and entry.last_used >= since]
        for _, entry in entries:
            entry.queued.add(job)

    def locked(entry: _Entry) -> None:
        with entry.lock:
            entry.queued.discard(job)
            entry.session.refresh_environment(os.environ)
            try:
                keep = action(entry.session)
                (entry.pinned.add if keep else entry.pinned.discard)(job)
            finally:
                entry.checked[job] = time.monotonic()  # after a failure: what it said last time stands

    return [RUN_ON(key[0], lambda entry=entry: locked(entry)) for key, entry in entries]  # type: ignore[misc]


def _host_entry() -> None:
    """The real host's session as the service's own environment configures it."""
    from wirework.api.env import store_config
    from wirework.errors import WireworkError

    try:
        config = store_config(env=os.environ)
    except WireworkError:
        return  # a bad WIREWORK_STORE in the service's own environment: no such session
    _entry(session_key(None, None, config, os.environ), config, os.environ)

"""API sessions for CLI commands: one per (netns, state dir), kept open inside the service.

In a one-shot CLI process this makes a fresh session; in the resident service the same
session (with its netlink sockets and store connection) serves every later request.
"""

from __future__ import annotations

import os
from typing import Any

_SESSIONS: dict[tuple[Any, ...], tuple[Any, str]] = {}
KEEP_SESSIONS = False  # set by the service


def get_session(netns: str | None, state_dir: str | None, store: Any = None) -> Any:
    """`store`: a wirework.store.StoreConfig (None: from the WIREWORK_STORE* environment)."""
    from wirework.api import Wirework
    from wirework.api.env import host_settings, store_config
    from wirework.api.env import state_dir as resolve_state_dir

    # A lab host's own state dir and Open vSwitch; a namespace that does not exist is refused.
    state_dir, lab_ovs = host_settings(netns, state_dir)
    config = store if store is not None else store_config()
    key = (netns, resolve_state_dir(state_dir), os.environ.get("WIREWORK_OVS_DB") or lab_ovs, config.identity())
    identity = _identity(netns)
    cached = _SESSIONS.get(key)
    if cached is not None and cached[1] == identity:
        cached[0].refresh_environment()
        return cached[0]
    if cached is not None:
        cached[0].close()  # the namespace was re-created: its old sockets point at a dead one
    session = Wirework(netns=netns, state_dir=key[1], ovs_db=key[2], store=config)
    if KEEP_SESSIONS:
        _SESSIONS[key] = (session, identity)
    return session


def _identity(netns: str | None) -> str:
    from wirework.api.env import netns_identity

    return netns_identity(netns)


def close_all() -> None:
    for session, _ in _SESSIONS.values():
        session.close()
    _SESSIONS.clear()


def live_sessions() -> list[Any]:
    """Every session the service holds, plus the default one (the real host)."""
    get_session(None, None)
    return [session for session, _ in _SESSIONS.values()]


def held_sessions() -> list[Any]:
    """The sessions the service holds (those its requests opened), nothing else."""
    return [session for session, _ in _SESSIONS.values()]

"""The service's DHCP lease renewal: every few seconds, each host it serves renews the leases
that are past half their time (`Wirework.renew_leases`). Kept apart from the request loop,
which only calls `tick()`; lines it reports go to the service's log."""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

INTERVAL_ENV = "WIREWORK_RENEW_INTERVAL"  # seconds between looks at the leases (default 5)


class LeaseRenewal:
    def __init__(self) -> None:
        self.interval = float(os.environ.get(INTERVAL_ENV) or 5.0)
        self.next = 0.0

    def tick(self) -> None:
        if time.monotonic() < self.next:
            return
        self.next = time.monotonic() + self.interval
        from wirework.errors import WireworkError

        for session in _sessions():
            with contextlib.suppress(WireworkError, OSError):
                for line in session.renew_leases():
                    print(f"wirework service: {line}", flush=True)


def _sessions() -> list[Any]:
    """The hosts the service serves; the machine's own too once its state store exists (never
    created just to look)."""
    from wirework.cli import sessions
    from wirework.store import state_dir

    if os.path.exists(os.path.join(state_dir(None), "state.db")):
        return list(sessions.live_sessions())
    return list(sessions.held_sessions())

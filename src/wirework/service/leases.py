"""The service's DHCP lease renewal: every few seconds, each host it serves renews the leases
that are past half their time (`Wirework.renew_leases`).

Each host's round runs on that host's lane (its netlink sockets follow the lane's namespace)
under the session's lock, like a request; a round still queued is not queued again. A host
holding leases of live guests stays open (the idle sweep keeps its session), and the service
does not exit idle while any does: nobody else would renew them (`doctor` reports a lease
that ran out). Lines it reports go to the service's log.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

INTERVAL_ENV = "WIREWORK_RENEW_INTERVAL"  # seconds between looks at the leases (default 5)
JOB = "dhcp-leases"


class LeaseRenewal:
    def __init__(self, log: Callable[[str], None]) -> None:
        # The service's own setting (not a request's): how often it looks.
        self.interval = float(os.environ.get(INTERVAL_ENV) or 5.0)
        self.log = log
        self.next = 0.0
        self._said_staying = False

    def tick(self) -> None:
        """Queue a renewal round on every host's lane when one is due (returns at once)."""
        if time.monotonic() < self.next:
            return
        self.next = time.monotonic() + self.interval
        from wirework.cli import sessions

        sessions.on_each_session(JOB, self._renew, with_host=_host_store_exists())

    def _renew(self, session: Any) -> bool:
        """One host's round; True while it holds leases to renew later."""
        from wirework.errors import WireworkError

        with contextlib.suppress(WireworkError, OSError):
            for line in session.renew_leases():
                self.log(line)
        try:
            return bool(session.leases_held())
        except (WireworkError, OSError):
            return True  # cannot tell now: keep it, the next round looks again

    def keeps_service(self) -> bool:
        """True while some host holds DHCP leases the service must renew (no idle exit)."""
        from wirework.cli import sessions

        hosts = sessions.pinned(JOB)
        if hosts and not self._said_staying:
            self.log(f"idle, but {hosts} host(s) hold DHCP leases to renew: staying")
        self._said_staying = bool(hosts)
        return bool(hosts)


def _host_store_exists() -> bool:
    """The machine's own host joins once its state store exists (never created just to look)."""
    from wirework.api.env import state_dir

    return os.path.exists(os.path.join(state_dir(None), "state.db"))

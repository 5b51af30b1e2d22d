"""What the service does besides answering requests, all of it on the lanes (`cli.sessions`):

- every `SWEEP_EVERY` s, drop sessions whose namespace was deleted or that sat idle;
- every `CACHE_REFRESH_EVERY` s, read again the adapters' caches of hosts in use (the iptables
  listing, trusted 10 s), so that their requests never wait for `iptables`;
- DHCP lease renewal (`service.leases`), which also decides whether the service may exit idle;
- the cluster agent (`service.agent_side`, when the service has a shared store) runs on its own
  thread; while it runs the service does not exit idle (the host's leases would expire);
- Docker's event stream is followed by `service.docker_watch` (started with the plugin by
  `service.docker_side`): a container's wiring is suspended when it stops, put back when it starts.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

SESSION_IDLE = 300.0
SWEEP_EVERY = 2.0
CACHE_REFRESH_EVERY = 5.0
IN_USE = 60.0  # a host a request used this recently is "in use"


class Background:
    def __init__(self, log: Callable[[str], None], agent: Any = None) -> None:
        from wirework.service.leases import LeaseRenewal

        self.log = log
        self.agent = agent
        self.renewal = LeaseRenewal(log)
        self.next_sweep = self.next_refresh = time.monotonic() + SWEEP_EVERY

    def tick(self) -> None:
        """Queue what is due (returns at once: the work runs on the lanes)."""
        from wirework.cli import sessions

        self.renewal.tick()
        now = time.monotonic()
        if now >= self.next_sweep:
            sessions.sweep(SESSION_IDLE, self.log)
            self.next_sweep = now + SWEEP_EVERY
        if now >= self.next_refresh:
            sessions.on_each_session("refresh-caches", _refresh_caches, with_host=False, used_within=IN_USE)
            self.next_refresh = now + CACHE_REFRESH_EVERY

    def may_exit_idle(self) -> bool:
        if self.agent is not None and self.agent.running:
            return False
        return not self.renewal.keeps_service()


def _refresh_caches(session: Any) -> None:
    from wirework.errors import WireworkError

    with contextlib.suppress(WireworkError, OSError):
        session.refresh_caches()

"""The cluster agent inside the resident service (issue 9: "the same code in the resident service").

When the service is given a shared store (`wirework service start --store etcd://...`, or
`WIREWORK_STORE` in its environment when it starts), it runs this host's agent — the very
`Agent` that `wirework agent` runs — on a thread of its own, with a session of its own
(pyroute2 sockets belong to the thread that opened them). A join that fails (etcd out of
reach, a host id in use) is logged and tried again every `RETRY_EVERY` seconds; the service
never exits idle while the agent runs. Stopping the service stops the agent the way `wirework
agent` stops on SIGTERM: the kernel stays as it is and the host's lease runs out unless the
service comes back within the TTL.

What the agent does is written to `SOCKET.agent` (JSON) for `wirework service status`:
the store, the host id, and per network the subnet it holds; the file goes with the service.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

RETRY_EVERY = 3.0
STATUS_EVERY = 5.0

Log = Callable[[str], None]


@dataclass(frozen=True)
class AgentSettings:
    """How the service runs its agent (read once at start, like the rest of its settings)."""

    store_url: str  # shown by `service status` (never credentials: those are not in the URL)
    public_ip: str | None = None
    lease_ttl: float = 10.0
    host_id: str | None = None


def status_path(socket_path: str) -> str:
    return socket_path + ".agent"


def read_status(socket_path: str) -> dict[str, Any] | None:
    """What the service's agent last wrote (None: the service runs no agent)."""
    try:
        with open(status_path(socket_path), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class AgentRunner:
    """This host's agent on its own thread: `start()`, then `stop()` when the service stops."""

    def __init__(self, settings: AgentSettings, make_session: Callable[[], Any], log: Log, status_file: str) -> None:
        self.settings = settings
        self.make_session = make_session
        self.log = log
        self.status_file = status_file
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._state: dict[str, Any] = {"store": settings.store_url, "state": "starting", "host": None,
                                       "networks": {}, "error": None, "since": time.time()}

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._write()
        self._thread = threading.Thread(target=self._run, name="cluster-agent", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.status_file)

    # -- the thread ------------------------------------------------------------------------
    def _run(self) -> None:
        """Join, then step until the service stops; an unexpected error (a defect) is logged and
        the agent starts again with a fresh session after `RETRY_EVERY` seconds (its lease is
        resumed: the host keeps its subnets), as a supervisor would restart `wirework agent`."""
        while not self._stopping.is_set():
            session = None
            try:
                session = self.make_session()
                agent = self._join(session)
                if agent is not None:
                    self._serve(agent)
            except Exception as exc:
                self._state.update(state="restarting", error=f"{type(exc).__name__}: {exc}")
                self._write()
                self.log(f"cluster agent failed: {type(exc).__name__}: {exc} (starting it again in {RETRY_EVERY:g} s)")
                self._stopping.wait(RETRY_EVERY)
            finally:
                if session is not None:
                    session.close()

    def _serve(self, agent: Any) -> None:
        written = 0.0
        while not self._stopping.is_set():
            agent.step(1.0)
            if time.monotonic() - written >= STATUS_EVERY or agent.sync.status() != self._state["networks"]:
                self._update(agent)
                written = time.monotonic()
        agent.stop()
        self.log("cluster agent stopped; this host keeps forwarding, and its claims expire unless the service "
                 f"comes back within {agent.config.lease_ttl:g} s")

    def _join(self, session: Any) -> Any:
        """The started agent; tried again until it joins or the service stops (None then)."""
        from wirework.errors import WireworkError

        s = self.settings
        while not self._stopping.is_set():
            try:
                agent = session.agent(public_ip=s.public_ip, lease_ttl=s.lease_ttl, host_id=s.host_id, log=self.log)
                agent.start()
                self._update(agent)
                return agent
            except WireworkError as exc:
                if self._state.get("error") != str(exc):
                    self.log(f"cluster agent cannot join yet: {exc} (trying again every {RETRY_EVERY:g} s)")
                self._state.update(state="joining", error=str(exc))
                self._write()
                self._stopping.wait(RETRY_EVERY)
        return None

    def _update(self, agent: Any) -> None:
        self._state.update(state="running" if agent.store_ok else "store unreachable", error=None,
                           host=agent.config.host_id, public_ip=agent.config.public_ip,
                           lease_ttl=agent.config.lease_ttl, networks=agent.sync.status())
        self._write()

    def _write(self) -> None:
        tmp = self.status_file + ".tmp"
        with contextlib.suppress(OSError):
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump({**self._state, "updated": time.time()}, f, sort_keys=True)
            os.replace(tmp, self.status_file)

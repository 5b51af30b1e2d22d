"""The resident service's follower of Docker's event stream: containers keep their wiring.

On a container's `start` it wires the container again (`Wirework.container_started`: its
attachments and connections, same address and MAC, then the commands run in it); on `die` it
suspends that wiring, on `destroy` it releases it. What happened while no service ran is caught
up by a full resync when the follower starts and whenever the stream had to be opened again
(dockerd restarted): the stream is opened first, with `since=` the time just before, then the
resync runs, so nothing that happens in between is missed (handling an event twice is harmless).

Everything runs in the follower's own thread with its own sessions (netlink sockets belong to
the thread that opened them); the store's transactions keep it consistent with other sessions.
Docker-related callbacks of the plugin (`dockerplugin`) ride on the same stream (`listeners`).
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

Log = Callable[[str], None]
Listener = Callable[[dict[str, Any]], None]
#: How long to wait before opening the stream again after it broke (dockerd restarting).
RETRY = 0.5
#: How long a stop waits before it is handled: a restart's start (Docker takes ~0.3-1 s between the two) comes
#: first and cancels it, and a stop's work (an inspect that waits for the restart) never delays a start.
STOP_DELAY = 2.0


class DockerWatcher:
    def __init__(self, docker_host: str | None, make_session: Callable[[str | None], Any],
                 log: Log = lambda _: None) -> None:
        self.docker_host = docker_host
        self.make_session = make_session  # netns (None: the real host) -> a Wirework session
        self.log = log
        self.listeners: list[Listener] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._stream: Any = None
        self._sessions: dict[str, Any] = {}
        self.resyncs = 0  # how many full resyncs ran (tests and logs)
        self.trace = bool(os.environ.get("WIREWORK_DOCKER_TRACE"))  # log each event's timing

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="docker-events", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        stream = self._stream
        if stream is not None:
            stream.close()
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the loop --------------------------------------------------------------------------
    def _run(self) -> None:
        from wirework.guests.docker import DockerClient  # the service may import adapters

        client = DockerClient(socket_of(self.docker_host))
        try:
            while not self._stopping.is_set():
                if not client.available():
                    self._stopping.wait(RETRY)
                    continue
                try:
                    self._follow(client)
                except Exception as exc:  # dockerd restarting, a bad event: open the stream again
                    self.log(f"docker events: {type(exc).__name__}: {exc}; following again")
                self._stopping.wait(RETRY)
        finally:
            for session in self._sessions.values():
                with contextlib.suppress(Exception):
                    session.close()

    def _follow(self, client: Any) -> None:
        since = time.time() - 1.0
        stream = self._stream = client.event_stream(("container", "network"), since=since)
        events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        reader = threading.Thread(target=_read_into, args=(stream, events), name="docker-events-reader", daemon=True)
        reader.start()
        try:
            self._resync()
            self._dispatch(events)
        finally:
            stream.close()
            self._stream = None
            reader.join(5)

    def _dispatch(self, events: queue.Queue[dict[str, Any] | None]) -> None:
        """Handle events as they come, a start at once; a stop (`die`, `destroy`) a moment later,
        and not at all when the same container starts meanwhile (a restart: its start rewires it,
        and the stop's work would only delay that)."""
        later: dict[str, tuple[dict[str, Any], float]] = {}
        while not self._stopping.is_set():
            wait = min((due for _, due in later.values()), default=time.monotonic() + 1.0) - time.monotonic()
            try:
                event = events.get(timeout=max(0.0, wait))
            except queue.Empty:
                event = {}
            if event is None:
                break  # the stream ended (dockerd went away)
            if event:
                cid, action = _container_event(event)
                if action in ("die", "destroy"):
                    previous = later.get(cid, ({}, 0.0))[0]
                    keep = previous if previous.get("Action") == "destroy" else event
                    later[cid] = (keep, time.monotonic() + STOP_DELAY)
                    self._notify(event)
                    continue
                if action == "start":
                    later.pop(cid, None)
                self._handle(event)
            for cid in [c for c, (_, due) in later.items() if due <= time.monotonic()]:
                self._handle(later.pop(cid)[0], notify=False)
        for event, _ in later.values():
            self._handle(event, notify=False)

    def _resync(self) -> None:
        self.resyncs += 1
        for session in self._hosts():
            for line in session.containers_resync():
                self.log(f"resync: {line}")
        for listener in self.listeners:
            listener({"Type": "resync"})

    def _notify(self, event: dict[str, Any]) -> None:
        for listener in self.listeners:
            try:
                listener(event)
            except Exception as exc:
                self.log(f"docker events: listener failed on {event.get('Action')}: {exc}")

    def _handle(self, event: dict[str, Any], *, notify: bool = True) -> None:
        if notify:
            self._notify(event)
        if event.get("Type") == "network" and event.get("Action") == "connect":
            self._announce(event)
            return
        cid, action = _container_event(event)
        if not cid or action not in ("start", "die", "destroy"):
            return
        began = time.time()
        for session in self._hosts():
            try:
                lines = session.container_started(cid) if action == "start" else session.container_stopped(cid)
            except Exception as exc:
                lines = [f"container {cid[:12]}: {type(exc).__name__}: {exc}"]
            for line in lines:
                self.log(f"{action}: {line}")
        if self.trace and event.get("timeNano"):
            age = (began - int(event["timeNano"]) / 1e9) * 1000
            self.log(f"{action} {cid[:12]}: handled {age:.1f} ms after the event, in {(time.time() - began) * 1000:.1f} ms")

    def _announce(self, event: dict[str, Any]) -> None:
        """A container joined a network: if it is one of wirework's, announce its address (on a
        thread of its own: the ARPs take ~0.5 s and must not hold up the next event)."""
        actor = event.get("Actor") or {}
        network_id, container_id = str(actor.get("ID") or ""), str((actor.get("Attributes") or {}).get("container") or "")
        if not network_id or not container_id:
            return
        session = self._session("-")  # Docker's networks live in the real host
        try:
            target = session.docker_connected(network_id, container_id)
        except Exception as exc:
            self.log(f"connect {container_id[:12]}: {type(exc).__name__}: {exc}")
            return
        if target is not None:
            threading.Thread(target=session.announce_address, args=target, name="announce", daemon=True).start()

    def _hosts(self) -> list[Any]:
        """A session for the real host and for each namespace host that has records (and exists)."""
        default = self._session("-")
        out = [default]
        for host in default.recorded_hosts():
            if host == "-":
                continue
            if os.path.exists(f"/run/netns/{host}"):
                out.append(self._session(host))
            elif host in self._sessions:
                with contextlib.suppress(Exception):
                    self._sessions.pop(host).close()  # its namespace is gone
        return out

    def _session(self, host: str) -> Any:
        session = self._sessions.get(host)
        if session is None:
            session = self.make_session(None if host == "-" else host)
            self._sessions[host] = session
        return session


def _container_event(event: dict[str, Any]) -> tuple[str, str]:
    """(container id, action) of a container event; ("", "") for others."""
    if event.get("Type") != "container":
        return "", ""
    return str((event.get("Actor") or {}).get("ID") or event.get("id") or ""), str(event.get("Action") or "")


def _read_into(stream: Any, events: queue.Queue[dict[str, Any] | None]) -> None:
    try:
        for event in stream:
            events.put(event)
    finally:
        events.put(None)


def socket_of(docker_host: str | None) -> str | None:
    """The unix socket path of a DOCKER_HOST value (None: the client's default)."""
    if not docker_host:
        return None
    return docker_host[len("unix://"):] if docker_host.startswith("unix://") else docker_host

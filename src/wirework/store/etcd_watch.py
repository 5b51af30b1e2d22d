"""A watch on etcd that outlives the member it reads from.

A background thread keeps one watch stream open (the gateway's streaming `/v3/watch`) and
queues each response's events. It remembers the revision after the last event it delivered;
when the stream breaks (member killed, network gone) it reconnects — to the same endpoint or the
next one — and resumes from exactly that revision, so nothing is lost or repeated. A stream
that has been silent for `idle` seconds is reopened after a linearizable read on its endpoint,
because a member cut off from the quorum keeps an idle stream open and delivers nothing.

`next()` raises `StoreCompacted` (for good: the caller re-reads and watches again) when the
revision to resume from is no longer kept, and `StoreUnavailable` while no endpoint answers
(the thread keeps trying; later calls resume when etcd is back).
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections import deque
from typing import Any

import requests
import urllib3

from wirework.errors import StateError, StoreCompacted, StoreUnavailable, WireworkError
from wirework.store.base import Event
from wirework.store.etcd_conn import EtcdConnection, Transport

IDLE_REOPEN = 10.0  # seconds of silence after which the stream's endpoint is re-checked


class _Fatal(Exception):
    def __init__(self, error: WireworkError) -> None:
        super().__init__(str(error))
        self.error = error


class EtcdWatch:
    def __init__(self, conn: EtcdConnection, start: bytes, end: bytes, start_revision: int, *, strip: int,
                 idle: float = IDLE_REOPEN) -> None:
        self._conn = conn
        self._create = {"key": _b64(start), "range_end": _b64(end)}
        self._what = start[strip:].decode(errors="replace") or "(everything)"
        self._strip = strip
        self._idle = idle
        self._next = start_revision
        self._ready: deque[list[Event]] = deque()
        self._error: WireworkError | None = None
        self._failure = ""  # the last transport failure, while no endpoint answers
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._response: requests.Response | None = None
        self._thread = threading.Thread(target=self._run, name="wirework-etcd-watch", daemon=True)
        self._thread.start()

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    # -- Watch -------------------------------------------------------------------------------
    def next(self, timeout: float) -> list[Event]:
        with self._cond:
            self._cond.wait_for(lambda: self._ready or self._error is not None, timeout=max(timeout, 0.0))
            events = [e for batch in self._ready for e in batch]
            self._ready.clear()
            if events or self._stop.is_set():
                return events
            if self._error is not None:
                raise self._error
            if self._failure:
                raise self._conn.unavailable([self._failure])
            return []

    def cancel(self) -> None:
        self._stop.set()
        with self._cond:
            if self._response is not None:
                _shutdown(self._response)  # wakes the reader blocked on the stream
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=self._conn.access.timeout)

    # -- the reader thread -------------------------------------------------------------------
    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            index = self._conn.current
            try:
                self._stream(index)
                failures = 0
            except _Fatal as fatal:
                self._finish(fatal.error)
                return
            except (Transport, StoreUnavailable, requests.RequestException, OSError, ValueError) as exc:
                failures += 1
                self._conn.fail_over(index)
                if failures >= len(self._conn.access.endpoints):
                    with self._cond:
                        self._failure = f"{self._conn.access.endpoints[index]}: {exc}"
                        self._cond.notify_all()
                self._stop.wait(min(0.05 * 2 ** min(failures, 5), 1.0))
            except WireworkError as exc:  # refused by etcd (permissions): retrying cannot help
                self._finish(exc)
                return

    def _stream(self, index: int) -> None:
        """Check the endpoint, open a stream from the next revision, read until it breaks or idles."""
        self._conn.call_at(index, "/kv/range", {"key": self._create["key"], "count_only": True})
        session = self._conn.new_session()
        request: dict[str, Any] = {"create_request": {**self._create, "start_revision": self._next}}
        timeout = (self._conn.access.connect_timeout, self._idle)
        response = session.post(self._conn.url(index, "/watch"), json=request, stream=True, timeout=timeout)
        with self._cond:
            self._response = response
            self._failure = ""
        try:
            if response.status_code != 200:
                raise Transport(self._conn.access.endpoints[index], f"HTTP {response.status_code}", sent=True)
            for line in response.iter_lines(chunk_size=65536):  # a chunked stream: yields as data comes
                if self._stop.is_set():
                    return
                if line.strip():
                    self._handle(json.loads(line), index)
            raise Transport(self._conn.access.endpoints[index], "the watch stream ended", sent=True)
        except requests.ConnectionError as exc:
            if self._stop.is_set() or _idle_timeout(exc):
                return  # silence: reopen (after the endpoint check) from the same revision
            raise
        finally:
            with self._cond:
                self._response = None
            response.close()
            session.close()

    def _handle(self, message: dict[str, Any], index: int) -> None:
        if "error" in message:
            detail = message["error"]
            text = str(detail.get("message", detail)) if isinstance(detail, dict) else str(detail)
            if "auth token" in text:
                self._conn.authenticate(index)
            raise Transport(self._conn.access.endpoints[index], text, sent=True)
        result = message.get("result", {})
        if result.get("canceled"):
            compacted = int(result.get("compact_revision", 0))
            if compacted:
                raise _Fatal(StoreCompacted(
                    f"the watch on {self._what} needs revision {self._next}, but etcd keeps history only from "
                    f"revision {compacted} on; re-read everything and watch again"))
            reason = result.get("cancel_reason") or "no reason given"
            raise _Fatal(StateError(f"etcd cancelled the watch on {self._what}: {reason}"))
        events = [self._event(raw) for raw in result.get("events", [])]
        if events:
            self._next = events[-1].revision + 1
            with self._cond:
                self._ready.append(events)
                self._cond.notify_all()

    def _event(self, raw: dict[str, Any]) -> Event:
        kv = raw["kv"]
        key = base64.b64decode(kv["key"])[self._strip:].decode()
        value = None if raw.get("type") == "DELETE" else json.loads(base64.b64decode(kv.get("value", "")))
        return Event(key, value, int(kv["mod_revision"]))

    def _finish(self, error: WireworkError) -> None:
        with self._cond:
            self._error = error
            self._cond.notify_all()


def _idle_timeout(exc: requests.ConnectionError) -> bool:
    inner = exc.args[0] if exc.args else None
    return isinstance(inner, urllib3.exceptions.ReadTimeoutError) or "Read timed out" in str(exc)


def _shutdown(response: requests.Response) -> None:
    try:
        fd = response.raw.fileno()
    except (AttributeError, OSError, ValueError):
        return
    try:
        sock = socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM)
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()

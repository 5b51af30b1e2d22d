"""A thin Docker Engine API client on the unix socket.

The SDK costs ~0.2 s to import and wirework needs three calls (inspect, list, events), so
this speaks HTTP/1.1 over the socket with the standard library. Every call has a timeout:
dockerd 20.10 has been seen to hang under mass concurrent create/remove.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import urllib.parse
from collections.abc import Iterator
from typing import Any

from wirework.errors import ServiceError

DEFAULT_SOCKET = "/var/run/docker.sock"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


class DockerClient:
    def __init__(self, socket_path: str | None = None, timeout: float = 10.0) -> None:
        self.explicit_path = socket_path
        self.timeout = timeout

    @property
    def path(self) -> str:
        """The socket: explicit, else DOCKER_HOST read now (the service serves many callers)."""
        if self.explicit_path:
            return self.explicit_path
        host = os.environ.get("DOCKER_HOST", "")
        return host[len("unix://"):] if host.startswith("unix://") else DEFAULT_SOCKET

    def available(self) -> bool:
        return os.path.exists(self.path)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        conn = _UnixConnection(self.path, self.timeout)
        try:
            payload = json.dumps(body) if body is not None else None
            headers = {"Content-Type": "application/json"} if payload else {}
            conn.request(method, path, body=payload, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise ServiceError(f"Docker API at {self.path} did not answer {method} {path}: {exc}; is dockerd running?") from None
        finally:
            conn.close()
        try:
            data = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            data = raw.decode(errors="replace")
        return resp.status, data

    def inspect(self, name: str) -> dict[str, Any] | None:
        status, data = self.request("GET", f"/containers/{urllib.parse.quote(name, safe='')}/json")
        if status == 404:
            return None
        if status != 200:
            raise ServiceError(f"Docker API: inspect {name!r} answered {status}: {data}")
        return data if isinstance(data, dict) else None

    def containers(self, all_: bool = False) -> list[dict[str, Any]]:
        status, data = self.request("GET", f"/containers/json?all={1 if all_ else 0}")
        if status != 200 or not isinstance(data, list):
            raise ServiceError(f"Docker API: list containers answered {status}")
        return data

    def networks(self) -> list[dict[str, Any]]:
        """Docker's networks (GET /networks): names, drivers, options such as the bridge name."""
        status, data = self.request("GET", "/networks")
        if status != 200 or not isinstance(data, list):
            raise ServiceError(f"Docker API: list networks answered {status}")
        return data

    def events(self, types: tuple[str, ...] = ("container",)) -> Iterator[dict[str, Any]]:
        """Stream Docker events (blocks); used by the resident service."""
        stream = self.event_stream(types)
        try:
            yield from stream
        finally:
            stream.close()

    def event_stream(self, types: tuple[str, ...] = ("container",), since: float | None = None) -> EventStream:
        """Docker's events from `since` (a Unix time; events before now are replayed) on."""
        query = {"filters": json.dumps({"type": list(types)})}
        if since is not None:
            query["since"] = f"{since:.9f}"
        return EventStream(self.path, "/events?" + urllib.parse.urlencode(query))


class EventStream:
    """An open `/events` request: iterate for events; `close()` from any thread ends the iteration."""

    def __init__(self, path: str, url: str) -> None:
        self._conn = _UnixConnection(path, timeout=10.0)
        try:
            self._conn.request("GET", url)
            self._resp = self._conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            self._conn.close()
            raise ServiceError(f"Docker API at {path} did not answer GET /events: {exc}; is dockerd running?") from None
        if self._resp.status != 200:
            self._conn.close()
            raise ServiceError(f"Docker API: GET /events answered {self._resp.status}")
        if self._conn.sock is not None:
            self._conn.sock.settimeout(None)  # events come when they come

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            try:
                line = self._resp.readline()
            except (OSError, ValueError, AttributeError, http.client.HTTPException):
                return  # closed (by close(), from another thread), or dockerd went away
            if not line:
                return
            if line.strip():
                yield json.loads(line)

    def close(self) -> None:
        sock = self._conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._conn.close()

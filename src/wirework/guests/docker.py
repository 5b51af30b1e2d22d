"""A thin Docker Engine API client: unix socket or plain-HTTP TCP, as DOCKER_HOST says.

The SDK costs ~0.2 s to import and wirework needs three calls (inspect, list, events), and
even `http.client` costs ~25 ms (it loads the `email` package) on the CLI's cold path, so this
speaks just enough HTTP/1.1 over a socket: one request per connection, `Connection: close`,
bodies sized by Content-Length, chunked, or the end of the stream. Every call has a timeout:
dockerd 20.10 has been seen to hang under mass concurrent create/remove.

DOCKER_HOST forms: `unix:///path`, `tcp://HOST[:PORT]` (plain HTTP, port 2375 by default).
TLS (`https://`, `DOCKER_TLS_VERIFY`), `ssh://` and the rest are refused with a clear error
rather than silently ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

from wirework.errors import InvalidInput, ServiceError

DEFAULT_SOCKET = "/var/run/docker.sock"
DEFAULT_TCP_PORT = 2375
_MAX_HEADER = 64 * 1024


def parse_docker_host(value: str, *, tls_verify: str = "") -> tuple[str, str | tuple[str, int]]:
    """('unix', path) or ('tcp', (host, port)) for a DOCKER_HOST value; InvalidInput otherwise."""
    fix = "use unix:///PATH or tcp://HOST:PORT (plain HTTP), or unset DOCKER_HOST"
    if not value:
        return "unix", DEFAULT_SOCKET
    if value.startswith("/"):
        return "unix", value
    scheme, sep, rest = value.partition("://")
    if not sep:
        raise InvalidInput(f"DOCKER_HOST={value!r} is not a URL; {fix}")
    if scheme == "unix":
        if not rest.startswith("/"):
            raise InvalidInput(f"DOCKER_HOST={value!r} names no absolute socket path; {fix}")
        return "unix", rest
    if scheme == "tcp" and not tls_verify:
        parsed = urllib.parse.urlsplit(value)
        try:
            port = parsed.port or DEFAULT_TCP_PORT
        except ValueError:
            raise InvalidInput(f"DOCKER_HOST={value!r} has an invalid port; {fix}") from None
        if not parsed.hostname:
            raise InvalidInput(f"DOCKER_HOST={value!r} names no host; {fix}")
        return "tcp", (parsed.hostname, port)
    if scheme in ("tcp", "https"):
        raise InvalidInput(f"DOCKER_HOST={value!r} with TLS is not supported by wirework; {fix}"
                           " (and unset DOCKER_TLS_VERIFY)")
    raise InvalidInput(f"DOCKER_HOST={value!r}: the {scheme}:// scheme is not supported; {fix}")


class DockerClient:
    def __init__(self, socket_path: str | None = None, timeout: float = 10.0, *,
                 env: Mapping[str, str] | None = None) -> None:
        """`socket_path`: a socket path or a DOCKER_HOST URL; None reads DOCKER_HOST (and
        DOCKER_TLS_VERIFY) of `env` at each call (None: this process's environment; the service
        passes the request's)."""
        self.explicit_path = socket_path
        self.timeout = timeout
        self.env = env

    def _endpoint(self) -> tuple[str, str | tuple[str, int]]:
        if self.explicit_path:
            return parse_docker_host(self.explicit_path)
        env = os.environ if self.env is None else self.env
        return parse_docker_host(env.get("DOCKER_HOST", ""), tls_verify=env.get("DOCKER_TLS_VERIFY", ""))

    @property
    def path(self) -> str:
        """Where Docker is reached: a socket path, or tcp://HOST:PORT."""
        _, where = self._endpoint()
        return where if isinstance(where, str) else f"tcp://{where[0]}:{where[1]}"

    def available(self) -> bool:
        _, where = self._endpoint()
        return isinstance(where, tuple) or os.path.exists(where)

    def _connect(self, timeout: float | None) -> socket.socket:
        _, where = self._endpoint()
        if isinstance(where, tuple):
            return socket.create_connection(where, timeout=timeout)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(where)
        except OSError:
            sock.close()
            raise
        return sock

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        payload = json.dumps(body).encode() if body is not None else b""
        try:
            with self._connect(self.timeout) as sock:
                _send(sock, method, path, payload)
                reader = _Reader(sock)
                status, headers = reader.head()
                raw = b"".join(reader.body(headers))
        except (OSError, ValueError) as exc:
            raise ServiceError(f"Docker API at {self.path} did not answer {method} {path}: {exc}; is dockerd running?") from None
        try:
            data = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            data = raw.decode(errors="replace")
        return status, data

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

    def event_stream(self, types: tuple[str, ...] = ("container",), since: float | None = None) -> EventStream:
        """Docker's events from `since` (a Unix time; events before now are replayed) on, for the
        resident service's follower (`service.docker_watch`)."""
        query = {"filters": json.dumps({"type": list(types)})}
        if since is not None:
            query["since"] = f"{since:.9f}"
        return EventStream(self, "/events?" + urllib.parse.urlencode(query))


class EventStream:
    """An open `/events` request: iterate for events; `close()` from any thread ends the iteration."""

    def __init__(self, client: DockerClient, url: str) -> None:
        try:
            self._sock = client._connect(client.timeout)
        except OSError as exc:
            raise ServiceError(f"Docker API at {client.path} did not answer GET /events: {exc}; is dockerd running?") from None
        try:
            _send(self._sock, "GET", url, b"")
            self._reader = _Reader(self._sock)
            status, self._headers = self._reader.head()
        except (OSError, ValueError) as exc:
            self._sock.close()
            raise ServiceError(f"Docker API at {client.path} did not answer GET /events: {exc}; is dockerd running?") from None
        if status != 200:
            self._sock.close()
            raise ServiceError(f"Docker API: GET /events answered {status}")
        self._sock.settimeout(None)  # events come when they come

    def __iter__(self) -> Iterator[dict[str, Any]]:
        pending = b""
        try:
            for chunk in self._reader.body(self._headers):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield json.loads(line)
        except (OSError, ValueError):
            return  # closed (by close(), from another thread), or dockerd went away

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()


def _send(sock: socket.socket, method: str, path: str, payload: bytes) -> None:
    head = [f"{method} {path} HTTP/1.1", "Host: docker", "Connection: close", "User-Agent: wirework"]
    if payload:
        head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("ascii") + payload)


class _Reader:
    """Buffered reads of one HTTP/1.1 response from a socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buf += data
        return bool(data)

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            if len(self.buf) > _MAX_HEADER or not self._fill():
                raise ValueError("truncated HTTP response")
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, size: int) -> bytes:
        while len(self.buf) < size:
            if not self._fill():
                raise ValueError("truncated HTTP body")
        data, self.buf = self.buf[:size], self.buf[size:]
        return data

    def head(self) -> tuple[int, dict[str, str]]:
        status_line = self.line().decode("latin-1").split()
        if len(status_line) < 2 or not status_line[0].startswith("HTTP/"):
            raise ValueError(f"not an HTTP answer: {' '.join(status_line)[:80]!r}")
        headers = {}
        while line := self.line():
            key, _, value = line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        return int(status_line[1]), headers

    def body(self, headers: dict[str, str]) -> Iterator[bytes]:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while size := int(self.line().split(b";")[0], 16):
                yield self.exact(size)
                self.line()
        elif "content-length" in headers:
            yield self.exact(int(headers["content-length"]))
        else:
            yield self.buf
            self.buf = b""
            while self._fill():
                yield self.buf
                self.buf = b""

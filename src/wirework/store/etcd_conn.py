"""One connection to an etcd cluster through its HTTP gateway (`etcd3gw`), with fail-over.

Every request goes to the current endpoint with a timeout; when an endpoint cannot be
reached the request moves on to the next one. Reads, and writes whose repetition changes nothing
a caller could tell (a plain put, lease grant/keep-alive/revoke), are retried on every kind of
transport failure. A conditional write (txn, delete) is retried only when it certainly did not
reach a server (the connection could not be made, or etcd answered "no leader"): one whose answer
was lost may have been applied — e.g. proposed to a leader that died a moment later is lost, but
one proposed to a slow leader is not — and a compare-and-swap retried after it would report a
failure that is not one. Such a write raises `StoreUnavailable` saying its outcome is unknown.

User/password authentication: the gateway's `auth/authenticate` gives a token that every later
request carries in its Authorization header; an expired token is renewed once per request.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import etcd3gw
import requests
from etcd3gw import exceptions as gwerr

from wirework.errors import InvalidInput, LeaseExpired, StateError, StoreUnavailable

#: etcd error texts that mean "refused before anything was proposed": safe to try elsewhere.
_NOT_APPLIED = ("etcdserver: no leader", "etcdserver: not capable", "etcdserver: too many requests")
#: texts of a server that cannot serve now but may have proposed a write (a read is safe to repeat).
_TRANSIENT = ("etcdserver: leader changed", "etcdserver: request timed out", "etcdserver: server stopped")
_TOKEN_ERRORS = ("invalid auth token", "user name is empty")


@dataclass(frozen=True)
class EtcdAccess:
    """How to reach a cluster: endpoints ("host:port"), TLS files, credentials, timeout."""

    endpoints: tuple[str, ...]
    tls: bool = False
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    user: str | None = None
    password: str | None = None
    timeout: float = 5.0

    @property
    def connect_timeout(self) -> float:
        return min(self.timeout, 2.0)

    def describe(self) -> str:
        return ("etcds://" if self.tls else "etcd://") + ",".join(self.endpoints)


class Transport(Exception):
    """A request that failed on the way; `sent` False means no server acted on it, `busy` that a
    server answered it cannot serve right now (no leader yet, leader changed, timed out)."""

    def __init__(self, endpoint: str, detail: str, *, sent: bool, busy: bool = False) -> None:
        super().__init__(detail)
        self.endpoint = endpoint
        self.sent = sent
        self.busy = busy


class EtcdConnection:
    def __init__(self, access: EtcdAccess) -> None:
        if not access.endpoints:
            raise InvalidInput(what="etcd endpoints", value="", why="name at least one HOST:PORT")
        self.access = access
        self._token: str | None = None
        self._lock = threading.Lock()
        self._current = 0
        self._clients = [self._client(ep) for ep in access.endpoints]

    # -- clients ---------------------------------------------------------------------------
    def _client(self, endpoint: str) -> etcd3gw.Etcd3Client:
        host, port = split_endpoint(endpoint)
        timeout = cast(float, (self.access.connect_timeout, self.access.timeout))  # requests takes a pair
        return etcd3gw.Etcd3Client(host, port, "https" if self.access.tls else "http", timeout=timeout,
                                   api_path="/v3/", session=self.new_session())

    def new_session(self) -> requests.Session:
        """A requests session with this cluster's TLS files and current auth token."""
        session = requests.Session()
        # etcd is reached directly: no HTTP(S)_PROXY, and no REQUESTS_CA_BUNDLE overriding --store-ca.
        session.trust_env = False
        if self.access.tls:
            session.verify = self.access.ca or _system_ca_bundle()
            if self.access.cert:
                session.cert = (self.access.cert, self.access.key) if self.access.key else self.access.cert
        if self._token:
            session.headers["Authorization"] = self._token
        return session

    def url(self, index: int, path: str) -> str:
        return self._clients[index].get_url(path)

    @property
    def current(self) -> int:
        return self._current

    def fail_over(self, failed: int) -> int:
        """Move past endpoint `failed` (if still current); returns the new current index."""
        with self._lock:
            if self._current == failed:
                self._current = (failed + 1) % len(self._clients)
            return self._current

    def close(self) -> None:
        for client in self._clients:
            client.session.close()

    # -- requests --------------------------------------------------------------------------
    def call(self, path: str, payload: dict[str, Any], *, conditional: bool = False) -> dict[str, Any]:
        """POST to the gateway on the first endpoint that answers; the decoded JSON answer.

        `conditional`: a write that must not be repeated once a server may have applied it.
        While some endpoint answers "busy" (a leader election: about an election timeout), the
        endpoints are tried again until the timeout; when none can even be reached, at once.
        """
        failures: list[str] = []
        maybe_applied = False
        deadline = time.monotonic() + self.access.timeout
        for round_ in range(1_000):
            busy = False
            start = self._current
            for step in range(len(self._clients)):
                index = (start + step) % len(self._clients)
                try:
                    answer = self._call_once(index, path, payload)
                except Transport as exc:
                    failures.append(f"{exc.endpoint}: {exc}")
                    if conditional and exc.sent:
                        raise StoreUnavailable(
                            f"etcd at {exc.endpoint} failed while applying a change ({exc}); the change may or "
                            f"may not have been made: read it back before retrying") from None
                    busy = busy or exc.busy
                    maybe_applied = maybe_applied or (exc.sent and not path.endswith("/range"))
                    self.fail_over(index)
                    continue
                with self._lock:
                    self._current = index
                return answer
            if not busy or time.monotonic() + 0.05 * (round_ + 1) > deadline:
                break
            time.sleep(0.05 * (round_ + 1))
        raise self.unavailable(failures, maybe_applied=maybe_applied)

    def unavailable(self, failures: Sequence[str], *, maybe_applied: bool = False) -> StoreUnavailable:
        detail = "; ".join(failures[-3:])
        outcome = "the change may have been made (an attempt got no answer)" if maybe_applied else "nothing was changed"
        return StoreUnavailable(
            f"etcd is unreachable at {self.access.describe()} ({detail}); {outcome}. Check that etcd "
            f"runs and that --store (WIREWORK_STORE) names its client URLs"
            + (", and the --store-ca/--store-cert/--store-key files" if self.access.tls else ""))

    def call_at(self, index: int, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """One request to endpoint `index` only (no fail-over): raises `Transport` when it fails."""
        return self._call_once(index, path, payload)

    def _call_once(self, index: int, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        client = self._clients[index]
        endpoint = self.access.endpoints[index]
        for attempt in (0, 1):
            if self.access.user and self._token is None:
                self.authenticate(index)
            try:
                return cast(dict[str, Any], client.post(client.get_url(path), json=payload))
            except gwerr.Etcd3Exception as exc:
                transport = _transport_error(exc, endpoint)
                if transport is not None:
                    raise transport from None
                message = error_message(exc)
                if attempt == 0 and self.access.user and any(t in message for t in _TOKEN_ERRORS):
                    self.authenticate(index)
                    continue
                if any(t in message for t in _NOT_APPLIED):
                    raise Transport(endpoint, message, sent=False, busy=True) from None
                if any(t in message for t in _TRANSIENT):
                    raise Transport(endpoint, message, sent=True, busy=True) from None
                raise server_error(message, path, self.access) from None
        raise AssertionError("unreachable")

    def authenticate(self, index: int | None = None) -> None:
        """Get a token for the configured user (from endpoint `index`) and use it from now on."""
        if not self.access.user:
            return
        client = self._clients[self._current if index is None else index]
        for session in [c.session for c in self._clients]:
            session.headers.pop("Authorization", None)
        try:
            answer = client.post(client.get_url("/auth/authenticate"),
                                 json={"name": self.access.user, "password": self.access.password or ""})
        except gwerr.Etcd3Exception as exc:
            transport = _transport_error(exc, f"{client.host}:{client.port}")
            if transport is not None:
                raise transport from None
            raise StateError(f"etcd refused user {self.access.user!r}: {error_message(exc)}; check --store-user and "
                             "the password (WIREWORK_STORE_PASSWORD or --store-password-file)") from None
        self._token = str(answer["token"])
        for c in self._clients:
            c.session.headers["Authorization"] = self._token


def _system_ca_bundle() -> str | bool:
    for var in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        path = os.environ.get(var)
        if path and os.path.exists(path):
            return path
    return "/etc/ssl/certs/ca-certificates.crt" if os.path.exists("/etc/ssl/certs/ca-certificates.crt") else True


def split_endpoint(endpoint: str) -> tuple[str, int]:
    """"host:port" or "[v6]:port" -> (host, port); the port defaults to 2379."""
    host, port = endpoint, "2379"
    if endpoint.startswith("["):
        host, _, rest = endpoint[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else port
    elif endpoint.count(":") == 1:
        host, port = endpoint.split(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInput(what="etcd endpoint", value=endpoint, why="use HOST:PORT, e.g. 10.0.0.5:2379")
    return host, int(port)


def error_message(exc: gwerr.Etcd3Exception) -> str:
    import json

    text = exc.detail_text or str(exc)
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()
    return str(body.get("error") or body.get("message") or text) if isinstance(body, dict) else text


def server_error(message: str, path: str, access: EtcdAccess) -> Exception:
    if "lease not found" in message:
        return LeaseExpired("the lease has expired or was revoked; grant a new one (etcd: requested lease not found)")
    if "duplicate key" in message:
        return InvalidInput(what="transaction", value=path, why="it changes one key twice (etcd refuses that)")
    if not access.user and ("user name is empty" in message or "authentication" in message):
        return StateError(f"etcd requires a user ({message}): pass --store-user and the password "
                          "(WIREWORK_STORE_PASSWORD or --store-password-file)")
    if "permission denied" in message or "authentication" in message or "user name" in message:
        return StateError(f"etcd refused the request ({path}) for user {access.user!r}: {message}; "
                          "check the user's role (etcdctl role get) and the store prefix (--store-prefix)")
    if message == "connection closed" and access.tls:
        return StateError(f"etcd's gateway could not reach etcd itself ({path}: {message}); with --client-cert-auth "
                          "etcd's server certificate needs the clientAuth usage as well as serverAuth")
    return StateError(f"etcd refused the request ({path}): {message}")


def _transport_error(exc: gwerr.Etcd3Exception, endpoint: str) -> Transport | None:
    """The transport failure behind an etcd3gw exception; None when a server answered."""
    cause = exc.__context__
    if not isinstance(cause, requests.RequestException):
        return None
    not_sent = isinstance(cause, requests.ConnectTimeout) or "NewConnectionError" in repr(cause) \
        or isinstance(cause, requests.exceptions.SSLError)
    detail = "connection refused" if "Connection refused" in repr(cause) else type(cause).__name__
    if isinstance(cause, requests.exceptions.SSLError):
        detail = f"TLS failed: {_short(cause)}"
    elif isinstance(cause, requests.Timeout):
        detail = "no answer in time"
    return Transport(endpoint, detail, sent=not not_sent)


def _short(exc: Exception) -> str:
    text = repr(exc)
    for marker in ("SSLError(", "SSLCertVerificationError("):
        if marker in text:
            text = text.rsplit(marker, 1)[1]
    return text[:160]

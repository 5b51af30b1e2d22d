"""The service's request path: credentials, bounded reads, one thread per request.

Each connection carries one request (`wirework.cli.wire`). The accept loop checks the peer's
credentials (SO_PEERCRED: root, or a member of the configured group, like Docker's socket) and
hands the connection to a thread, which reads the request within `READ_TIMEOUT` seconds and
`MAX_REQUEST` bytes; then the "lane" of the request's host namespace (`--netns`), one of
`WORKERS` long-lived single threads, runs it through `cli.app.run` with the client's
environment, working directory and its own output buffers: nothing process-wide is swapped, so
requests on different hosts run at once. One thread per host namespace, because pyroute2's
IPRoute opens a socket per calling thread, in that thread's current namespace: a guest socket
used from another thread would read the wrong namespace (and a thread per request would leak
a socket per request). Everything else that touches sessions (sweeps, Docker-event gc) runs on
the lanes too (`cli.sessions.RUN_ON`).
"""

from __future__ import annotations

import contextlib
import grp
import io
import os
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from wirework.cli.wire import decode_request, encode_answer

#: Seconds a client has to send its whole request (it sends at once; a silent one is dropped).
#: The service's own WIREWORK_SERVICE_READ_TIMEOUT overrides it (tests).
READ_TIMEOUT = float(os.environ.get("WIREWORK_SERVICE_READ_TIMEOUT") or 5.0)
MAX_REQUEST = 1 << 20
MAX_CONCURRENT = 32
WORKERS = 8
LANE_PREFIX = "wirework-lane"
REFUSED_EXIT = 77
#: Test-only variables: a client cannot switch them on in the service. Only a service started
#: with them in its own environment honours them (tests start such a service themselves).
TEST_ONLY_ENV = ("WIREWORK_FAIL_AT",)
_CRED = struct.Struct("3i")


class RequestError(Exception):
    pass


def peer_refusal(conn: socket.socket, group: int | None) -> str | None:
    """Why this peer may not use the service, or None when it may."""
    pid, uid, gid = _CRED.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size))
    if uid == 0 or (group is not None and (gid == group or group in _groups_of(pid))):
        return None
    allowed = "root" if group is None else f"root or members of group {_group_name(group)}"
    return (f"wirework service: permission denied for uid {uid}: only {allowed} may use this service;"
            " run the command as root (sudo)")


def _groups_of(pid: int) -> set[int]:
    with contextlib.suppress(OSError, ValueError), open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("Groups:"):
                return {int(g) for g in line.split()[1:]}
    return set()


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def read_request(conn: socket.socket) -> bytes:
    deadline = time.monotonic() + READ_TIMEOUT
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RequestError(f"no complete request within {READ_TIMEOUT:g} s")
        conn.settimeout(remaining)
        try:
            chunk = conn.recv(65536)
        except TimeoutError:
            raise RequestError(f"no complete request within {READ_TIMEOUT:g} s") from None
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_REQUEST:
            raise RequestError(f"request larger than {MAX_REQUEST} bytes refused")
        chunks.append(chunk)


def handle(request: dict[str, Any]) -> dict[str, Any]:
    """Run one CLI request with its own environment, working directory and output buffers."""
    from wirework.cli.app import run
    from wirework.cli.request import install_routing

    install_routing()
    env = {str(k): str(v) for k, v in dict(request.get("env") or {}).items() if k not in TEST_ONLY_ENV}
    out, err = io.StringIO(), io.StringIO()
    try:
        code = run([str(a) for a in request.get("argv", [])], env=env, cwd=str(request.get("cwd") or "/"),
                   stdout=out, stderr=err, stdin=io.StringIO(request.get("stdin") or ""))
    except BaseException as exc:  # a request must never take the service down
        err.write(f"wirework: internal error: {type(exc).__name__}: {exc}\n")
        code = 1
    return {"stdout": out.getvalue(), "stderr": err.getvalue(), "exit": code}


def send_answer(conn: socket.socket, code: int, stdout: str, stderr: str) -> None:
    with contextlib.suppress(OSError):
        conn.settimeout(READ_TIMEOUT)
        conn.sendall(encode_answer(code, stdout, stderr))


class Server:
    """Accepts connections and serves each in its own thread; tracks activity for idle exit."""

    def __init__(self, listener: socket.socket, group: int | None, log: Any) -> None:
        self.listener = listener
        self.group = group
        self.log = log
        self.slots = threading.BoundedSemaphore(MAX_CONCURRENT)
        self.active = 0
        self.last_activity = time.monotonic()
        self._mutex = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self.lanes = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{LANE_PREFIX}{i}") for i in range(WORKERS)]

    def run_on(self, netns: str | None, fn: Callable[[], Any]) -> Future[Any]:
        """Run `fn` on the thread that owns the sessions of host namespace `netns`."""
        return self.lanes[_lane_of(netns)].submit(fn)

    @staticmethod
    def on_lane(netns: str | None) -> bool:
        """Whether the calling thread is the lane of host namespace `netns`."""
        return threading.current_thread().name.startswith(f"{LANE_PREFIX}{_lane_of(netns)}_")

    def accept_one(self) -> bool:
        """Take one connection (False when none came within the listener's timeout)."""
        try:
            conn, _ = self.listener.accept()
        except (TimeoutError, BlockingIOError):
            return False
        self.slots.acquire()
        with self._mutex:
            self.active += 1
        thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
        with self._mutex:
            self._threads.add(thread)
        thread.start()
        return True

    def idle_for(self) -> float:
        with self._mutex:
            return 0.0 if self.active else time.monotonic() - self.last_activity

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn:
                self._serve_conn(conn)
        finally:
            with self._mutex:
                self.active -= 1
                self.last_activity = time.monotonic()
                self._threads.discard(threading.current_thread())
            self.slots.release()

    def _serve_conn(self, conn: socket.socket) -> None:
        refusal = peer_refusal(conn, self.group)
        if refusal:
            self.log(refusal)
            send_answer(conn, REFUSED_EXIT, "", refusal + "\n")
            _drain(conn)  # let the client finish sending and read the answer
            return
        try:
            argv, env, cwd, stdin = decode_request(read_request(conn))
        except (RequestError, ValueError, struct.error, UnicodeDecodeError, IndexError) as exc:
            self.log(f"bad request: {exc}")
            send_answer(conn, 7, "", f"wirework service: bad request: {exc}\n")
            _drain(conn)
            return
        request = {"argv": argv, "env": env, "cwd": cwd, "stdin": stdin}
        answer = self.run_on(_netns_of(argv, env), lambda: handle(request)).result()
        send_answer(conn, int(answer["exit"]), str(answer["stdout"]), str(answer["stderr"]))

    def wait_requests(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._mutex:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for lane in self.lanes:
            lane.shutdown(wait=False)


def _lane_of(netns: str | None) -> int:
    return zlib.crc32((netns or "").encode()) % WORKERS


def _netns_of(argv: list[str], env: dict[str, str]) -> str | None:
    """The request's host namespace (`--netns X` / `--netns=X`; a CNI plugin request names it in
    WIREWORK_NETNS), which picks its lane."""
    if argv[:2] == ["cni", "plugin"]:
        return env.get("WIREWORK_NETNS") or None
    for i, word in enumerate(argv):
        if word == "--netns" and i + 1 < len(argv):
            return argv[i + 1]
        if word.startswith("--netns="):
            return word.split("=", 1)[1]
    return None


def _drain(conn: socket.socket) -> None:
    """Read and drop what a refused client still sends, so it can read the answer (no reset)."""
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + READ_TIMEOUT
        while time.monotonic() < deadline:
            conn.settimeout(max(0.01, deadline - time.monotonic()))
            if not conn.recv(1 << 16):
                return


def resolve_group(name: str | None) -> int | None:
    if not name:
        return None
    try:
        return grp.getgrnam(name).gr_gid if not name.isdigit() else int(name)
    except KeyError:
        raise SystemExit(f"wirework service: no group {name!r}") from None


def secure_socket(path: str, group: int | None) -> None:
    """root only (0600), or root and the group (0660), like Docker's socket."""
    if group is None:
        os.chmod(path, 0o600)
    else:
        os.chown(path, 0, group)
        os.chmod(path, 0o660)


__all__ = ["MAX_REQUEST", "READ_TIMEOUT", "Server", "handle"]

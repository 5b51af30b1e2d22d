"""The resident service: runs CLI requests with everything loaded, and cleans up after Docker.

Protocol (`wirework.cli.wire`): one request per connection on a unix socket (mode 0600,
root only) — argv, the WIREWORK_* environment, the working directory, optional stdin; the
answer is the exit status, stdout and stderr. Requests run one at a time in the main thread,
through the same `cli.app.run` a local CLI uses, so there is one code path. A thread follows
Docker's event stream; when a container dies, the main loop tears down what is left of its
attachments (OVS ports, records), because unlike a veth an OVS port does not vanish with the
container's namespace. Later, the same process serves the Docker plugin socket and etcd watches.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from typing import Any

from wirework.cli.main import socket_path
from wirework.cli.wire import decode_request, encode_answer

__all__ = ["running_pid", "serve", "socket_path", "start", "stop"]

_ENV_PREFIXES = ("WIREWORK_", "CNI_")  # CNI_*: a CNI plugin request (wirework.cni)
_ENV_EXTRA = ("DOCKER_HOST",)


def _forwarded(key: str) -> bool:
    return key.startswith(_ENV_PREFIXES) or key in _ENV_EXTRA


def _pidfile(path: str) -> str:
    return path + ".pid"


def running_pid(path: str) -> int | None:
    try:
        with open(_pidfile(path), encoding="ascii") as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except (OSError, ValueError):
        return None
    # The pid may have been reused by an unrelated process: check it is our service.
    return pid if b"wirework" in cmdline and b"service" in cmdline else None


def start(path: str, *, watch_docker: bool = True) -> int:
    pid = running_pid(path)
    if pid:
        return pid
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    argv = [sys.executable, "-m", "wirework.cli.main", "service", "run", "--socket", path]
    if not watch_docker:
        argv.append("--no-docker-events")
    with open(path + ".log", "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if running_pid(path) == proc.pid and os.path.exists(path):
            return proc.pid
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    raise RuntimeError(f"the wirework service did not start; see {path}.log")


def stop(path: str, *, timeout: float = 10.0) -> bool:
    """SIGTERM, and SIGKILL when a request keeps it busy past `timeout`; True once it is gone."""
    pid = running_pid(path)
    if not pid:
        return False
    os.kill(pid, signal.SIGTERM)
    if not _wait_exit(pid, timeout):
        os.kill(pid, signal.SIGKILL)
        _wait_exit(pid, 5)
        for leftover in (path, _pidfile(path)):  # it had no chance to remove them
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)
    return not os.path.exists(f"/proc/{pid}")


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not os.path.exists(f"/proc/{pid}"):
            return True
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it when this process started it
        time.sleep(0.02)
    return not os.path.exists(f"/proc/{pid}")


def serve(path: str, *, watch_docker: bool = True) -> int:
    _preload()
    from wirework.cli import sessions

    sessions.KEEP_SESSIONS = True
    from wirework.plan import executor

    executor.CRASH_INJECTION = False  # a test's "crash:N" must not kill everybody's service
    server = _listen(path)
    with open(_pidfile(path), "w", encoding="ascii") as f:
        f.write(str(os.getpid()))
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    docker = _start_docker_side(watch_docker, path)
    from wirework.service.leases import LeaseRenewal

    renewal = LeaseRenewal()
    try:
        while not stopping.is_set():
            renewal.tick()
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                _serve_one(conn)
    finally:
        server.close()
        docker.stop()
        for leftover in (path, _pidfile(path)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)
        sessions.close_all()
    return 0


def _preload() -> None:
    """Import what requests need now, so no request pays for it."""
    import pyroute2  # noqa: F401

    import wirework.api  # noqa: F401
    import wirework.cli.app as app

    app.build_parser()


def _listen(path: str) -> socket.socket:
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        server.bind(path)
    finally:
        os.umask(old)
    server.listen(64)
    server.settimeout(0.5)
    return server


def _serve_one(conn: socket.socket) -> None:
    conn.settimeout(30)
    try:
        raw = b"".join(iter(lambda: conn.recv(65536), b""))
        argv, env, cwd, stdin = decode_request(raw)
        answer = handle({"argv": argv, "env": env, "cwd": cwd, "stdin": stdin})
    except (OSError, ValueError, struct.error) as exc:
        answer = {"stdout": "", "stderr": f"wirework service: bad request: {exc}\n", "exit": 7}
    with contextlib.suppress(OSError):
        conn.sendall(encode_answer(int(answer["exit"]), str(answer["stdout"]), str(answer["stderr"])))


def handle(request: dict[str, Any]) -> dict[str, Any]:
    """Run one CLI request in-process with its environment and working directory."""
    from wirework.cli.app import run

    out, err = io.StringIO(), io.StringIO()
    saved_env = {k: v for k, v in os.environ.items() if _forwarded(k)}
    saved_cwd = os.getcwd()
    saved_stdin = sys.stdin
    _set_env(dict(request.get("env") or {}))
    try:
        with contextlib.suppress(OSError):
            os.chdir(str(request.get("cwd") or "/"))
        sys.stdin = io.StringIO(request.get("stdin") or "")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = run([str(a) for a in request.get("argv", [])])
            except Exception as exc:
                print(f"wirework: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
                code = 1
    finally:
        sys.stdin = saved_stdin
        os.chdir(saved_cwd)
        _set_env(saved_env)
    return {"stdout": out.getvalue(), "stderr": err.getvalue(), "exit": code}


def _set_env(values: dict[str, str]) -> None:
    for key in [k for k in os.environ if _forwarded(k)]:
        del os.environ[key]
    for key, value in values.items():
        if _forwarded(key):
            os.environ[key] = str(value)


def _start_docker_side(watch_docker: bool, path: str) -> Any:
    """Docker's events (containers keep their wiring across restarts) and the Docker plugin."""
    from wirework.cli.main import DEFAULT_SOCKET
    from wirework.service.docker_side import DockerSide

    side = DockerSide.from_environment(watch_docker=watch_docker, log=_log, default_socket=path == DEFAULT_SOCKET)
    side.start()
    return side


def _log(message: str) -> None:
    line = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} wireworkd[{os.getpid()}]: {message}\n"
    with contextlib.suppress(OSError, ValueError):
        os.write(2, line.encode(errors="replace"))

"""The resident service: runs CLI requests with everything loaded, and cleans up after Docker.

Protocol (`wirework.cli.wire`): one request per connection on a unix socket (0600 root only,
or 0660 with `--group`), checked with SO_PEERCRED; see `service.server` for the request path
(bounded reads, one thread per request, per-host session locks). The listening socket is bound
here, or inherited from systemd (`LISTEN_FDS`, `contrib/systemd/wireworkd.socket`). The CLI
starts the service by itself when none answers (`cli.main`); it then exits after
`--idle-exit` seconds without requests (not while it holds DHCP leases to renew). What it does
besides requests (Docker-event gc, lease renewal, session sweeps, cache refreshes) is in
`service.background`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from wirework.cli.main import socket_path

__all__ = ["running_pid", "serve", "socket_path", "start", "stop"]

GROUP_ENV = "WIREWORK_SOCKET_GROUP"


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


def start(path: str, *, watch_docker: bool = True, idle_exit: int = 0, group: str | None = None,
          env: dict[str, str] | None = None) -> int:
    """Start the service detached (`env`: variables it gets besides this process's, e.g. its store)."""
    pid = running_pid(path)
    if pid:
        return pid
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    argv = [sys.executable, "-m", "wirework.service", "--socket", path, "--idle-exit", str(idle_exit)]
    if not watch_docker:
        argv.append("--no-docker-events")
    if group:
        argv += ["--group", group]
    with open(path + ".log", "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                                env={**os.environ, **env} if env else None)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        running = running_pid(path)
        # Ours, or one that a command started at the same moment (ours then found the lock
        # taken and left): either way a service answers on `path`.
        if running and (running == proc.pid or proc.poll() is not None) and os.path.exists(path):
            return running
        if proc.poll() is not None and not _lock_held(path):
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


def serve(path: str, *, watch_docker: bool = True, idle_exit: float = 0, group: str | None = None) -> int:
    """Run the service until SIGTERM, or until `idle_exit` seconds pass without requests (0: never)."""
    from wirework.service import server as srv

    lock = _take_lock(path)
    if lock is None:
        _log(f"another service already holds {path}.lock: exiting")
        return 0
    inherited = _inherited_listener()
    try:
        gid = srv.resolve_group(group or os.environ.get(GROUP_ENV))
        _preload()
        _normal_priority()
        listener = inherited or _listen(path, gid)
    except (OSError, SystemExit, ImportError) as exc:
        _note_failure(path, f"{type(exc).__name__}: {exc}")
        raise
    from wirework.cli import request, sessions

    sessions.KEEP_SESSIONS = True
    from wirework.plan import executor

    executor.CRASH_INJECTION = False  # a test's "crash:N" must not kill everybody's service
    # print() inside a request goes to that request's buffer, whatever thread runs it.
    request.install_routing()
    with open(_pidfile(path), "w", encoding="ascii") as f:
        f.write(str(os.getpid()))
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    docker = _start_docker_side(watch_docker, path)
    agent = _start_agent(docker, path)
    server = srv.Server(listener, gid, _log)
    sessions.RUN_ON = server.run_on
    sessions.ON_LANE = server.on_lane
    _log(f"serving {path} (pid {os.getpid()}, idle exit {idle_exit or 'never'})")
    try:
        _loop(server, stopping, idle_exit, agent)
    finally:
        if inherited is None:  # a socket systemd passed stays systemd's
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        _drain_backlog(server)
        listener.close()
        if agent is not None:
            agent.stop()
        docker.stop()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(_pidfile(path))
        sessions.close_all()
        server.wait_requests(30)
        os.close(lock)
    return 0


def _loop(server: Any, stopping: threading.Event, idle_exit: float, agent: Any = None) -> None:
    from wirework.service.background import Background

    background = Background(_log, agent)
    while not stopping.is_set():
        server.accept_one()
        background.tick()
        if idle_exit and server.idle_for() >= idle_exit and background.may_exit_idle():
            _log(f"no request for {idle_exit:g} s: exiting")
            return


def _drain_backlog(server: Any) -> None:
    """Serve connections already queued when the socket path was removed (none are lost)."""
    with contextlib.suppress(OSError):
        server.listener.setblocking(False)
        while server.accept_one():
            pass


def main(argv: list[str] | None = None) -> int:
    """`python -m wirework.service`: what the CLI's auto-start and the systemd unit run."""
    import argparse

    parser = argparse.ArgumentParser(prog="wireworkd", description="the wirework resident service")
    parser.add_argument("--socket", default=None, help="socket path (default /run/wirework/wireworkd.sock)")
    parser.add_argument("--idle-exit", type=float, default=None,
                        help="exit after this many seconds without requests; 0: never (default 0)")
    parser.add_argument("--group", default=None, help=f"group allowed besides root (env {GROUP_ENV})")
    parser.add_argument("--no-docker-events", action="store_true", help="do not watch Docker's events")
    args = parser.parse_args(argv)
    return serve(args.socket or socket_path(), watch_docker=not args.no_docker_events,
                 idle_exit=args.idle_exit or 0, group=args.group)


def _log(message: str) -> None:
    line = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} wireworkd[{os.getpid()}]: {message}\n"
    with contextlib.suppress(OSError, ValueError):
        os.write(2, line.encode(errors="replace"))


def _take_lock(path: str) -> int | None:
    os.makedirs(os.path.dirname(path) or ".", mode=0o755, exist_ok=True)
    fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _lock_held(path: str) -> bool:
    """Whether a service (maybe still loading) holds `path`'s lock."""
    fd = _take_lock(path)
    if fd is None:
        return True
    os.close(fd)
    return False


def _note_failure(path: str, reason: str) -> None:
    """Leave the reason where the next CLI run finds it and says it in one line."""
    _log(f"cannot start: {reason}")
    with contextlib.suppress(OSError), open(path + ".failed", "w", encoding="utf-8") as f:
        f.write(reason.replace("\n", " "))


def _inherited_listener() -> socket.socket | None:
    """The listening socket systemd passed (LISTEN_FDS protocol: fd 3), if any."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        return None
    count = int(os.environ.get("LISTEN_FDS") or 0)
    for key in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(key, None)
    if count < 1:
        return None
    listener = socket.socket(fileno=3)
    os.set_inheritable(3, False)
    listener.settimeout(0.5)
    return listener


def _normal_priority() -> None:
    """The CLI starts the service at SCHED_IDLE (not to slow the command that started it): loaded, serve at normal priority."""
    if os.sched_getscheduler(0) != os.SCHED_OTHER:
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


def _preload() -> None:
    """Import what requests need now, so no request pays for it."""
    import wirework.api
    import wirework.cli.app as app
    import wirework.kernel.netlink  # noqa: F401

    app.REUSE_PARSERS = True
    app.preload_parsers()


def _listen(path: str, group: int | None) -> socket.socket:
    from wirework.service.server import secure_socket

    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        server.bind(path)
    finally:
        os.umask(old)
    secure_socket(path, group)
    server.listen(64)
    server.settimeout(0.5)
    return server


def handle(request: dict[str, Any]) -> dict[str, Any]:
    from wirework.service.server import handle as handle_request

    return handle_request(request)


def _start_docker_side(watch_docker: bool, path: str) -> Any:
    """Docker's events (containers keep their wiring across restarts) and the Docker plugin."""
    from wirework.cli.main import DEFAULT_SOCKET
    from wirework.service.docker_side import DockerSide

    side = DockerSide.from_environment(watch_docker=watch_docker, log=_log, default_socket=path == DEFAULT_SOCKET)
    side.start()
    return side


def _start_agent(side: Any, path: str) -> Any:
    """This host's cluster agent on its own thread, when the service was given a shared store."""
    settings = side.settings.agent_settings()
    if settings is None:
        return None
    from wirework.service.agent_side import AgentRunner, status_path

    runner = AgentRunner(settings, side.session, _log, status_path(path))
    runner.start()
    _log(f"cluster agent on {settings.store_url}")
    return runner

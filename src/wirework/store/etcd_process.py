"""Processes and sockets behind `etcd_members`: spawn a daemon (optionally inside a netns),
pidfiles with the process start time, stop by PID only while it is the same process, a plain
HTTP GET over a socket opened inside a namespace, and free ports.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Sequence

from wirework.errors import NotFound
from wirework.kernel.netns import inside, netns_path
from wirework.kernel.proc import process_start, which, write_pidfile

_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}  # reaped when they stop: a killed member leaves no zombie


def spawn(argv: list[str], log: str, pidfile: str, netns: str | None, *, package: str) -> int:
    """Start argv[0] (found on PATH) in its own session, output to log; write "PID START" to pidfile."""
    program = which(argv[0])
    if program is None:
        raise NotFound(what="program", name=argv[0], fix=f"install it: apt-get install {package}")
    full = [program, *argv[1:]]
    if netns:
        full = ["nsenter", f"--net={netns_path(netns)}", "--", *full]  # nsenter execs: the PID is the program's
    with open(log, "ab") as out:
        proc = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)
    _CHILDREN[proc.pid] = proc
    write_pidfile(pidfile, proc.pid, process_start(proc.pid, running_only=True))
    return proc.pid


def free_ports(host: str, count: int, netns: str | None = None) -> list[int]:
    """`count` distinct TCP ports free on host right now (bound together, then released)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    socks = []
    try:
        with inside(netns_path(netns) if netns else None):
            for _ in range(count):
                s = socket.socket(family, socket.SOCK_STREAM)
                s.bind((host, 0))
                socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def http_get(host: str, port: int, path: str, netns: str | None, tls: tuple[str, str, str] | None) -> bytes:
    """GET path over a connection made inside netns; tls: (ca, cert, key) of a client certificate."""
    with inside(netns_path(netns) if netns else None):
        sock = socket.create_connection((host, port), timeout=0.5)
    with sock:
        conn: socket.socket = sock
        if tls is not None:
            ctx = ssl.create_default_context(cafile=tls[0])
            ctx.check_hostname = False
            ctx.load_cert_chain(tls[1], tls[2])
            conn = ctx.wrap_socket(sock, server_hostname=host)
        conn.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        chunks = []
        while chunk := conn.recv(4096):
            chunks.append(chunk)
        return b"".join(chunks)


def stop_pid(pid: int, start: str, signals: Sequence[signal.Signals], timeout: float = 3.0) -> None:
    """Signal pid while it is still the process started at `start`; wait until it is all gone."""
    for sig in signals:
        if not running(pid, start):
            break
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and running(pid, start):
            _reap(pid)
            time.sleep(0.01)
    _reap(pid)


def running(pid: int, start: str) -> bool:
    """The process still exists as started, threads included: a killed etcd's leader thread turns
    zombie while its other threads still hold the sockets open."""
    if process_start(pid, running_only=True) == start:
        return True
    try:
        return bool(start) and len(os.listdir(f"/proc/{pid}/task")) > 1
    except OSError:
        return False


def _reap(pid: int) -> None:
    proc = _CHILDREN.get(pid)
    if proc is not None and proc.poll() is not None:
        del _CHILDREN[pid]

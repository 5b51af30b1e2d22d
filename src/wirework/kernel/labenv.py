"""Kernel adapters the lab needs beyond a host's: namespaces, guest programs, probes, graphviz.

Guest programs run inside their namespace through nsenter (which execs, so the PID is the
program's), in their own session, output to a log; the pidfile holds the PID and the
process start time so that a reused PID is never signalled. Nothing here uses a shell.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time

from wirework.errors import NotFound, Unsupported
from wirework.kernel.netns import NETNS_RUN_DIR, create_named, inside, remove_named
from wirework.kernel.proc import process_start, read_pidfile, which, write_pidfile


class Namespaces:
    def exists(self, name: str) -> bool:
        return os.path.exists(os.path.join(NETNS_RUN_DIR, name))

    def create(self, name: str) -> bool:
        """Create /run/netns/NAME; False when it was already there."""
        if self.exists(name):
            return False
        create_named(name)
        return True

    def delete(self, name: str) -> bool:
        if not self.exists(name):
            return False
        remove_named(name)
        return True

    def names(self, prefix: str) -> list[str]:
        try:
            return sorted(n for n in os.listdir(NETNS_RUN_DIR) if n.startswith(prefix))
        except FileNotFoundError:
            return []


def resolve_program(argv: list[str]) -> list[str]:
    """argv with its program found on PATH, or run as a busybox applet (httpd, nc, ...)."""
    if which(argv[0]):
        return argv
    busybox = which("busybox")
    if busybox:
        applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=False).stdout.split()
        if argv[0] in applets:
            return [busybox, *argv]
    raise NotFound(what="program", name=argv[0], fix="install it, or use a busybox applet")


class Daemons:
    def start(self, ns_path: str, argv: list[str], pidfile: str, log: str) -> int:
        full = ["nsenter", f"--net={ns_path}", "--", *resolve_program(argv)]
        os.makedirs(os.path.dirname(pidfile), exist_ok=True)
        with open(log, "ab") as out:
            proc = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, close_fds=True)
        time.sleep(0.03)
        start = process_start(proc.pid, running_only=True)
        if proc.poll() is not None or not start:
            raise Unsupported(feature=f"guest program {argv[0]!r}", why=f"it exited at once; see {log}")
        write_pidfile(pidfile, proc.pid, start)
        return proc.pid

    def alive(self, pidfile: str) -> bool:
        rec = read_pidfile(pidfile)
        return rec is not None and process_start(rec[0], running_only=True) == rec[1]

    def stop(self, pidfile: str, timeout: float = 2.0) -> bool:
        """Signal only the process this pidfile names (same start time); False if it was gone."""
        rec = read_pidfile(pidfile)
        stopped = False
        if rec is not None and process_start(rec[0], running_only=True) == rec[1]:
            pid, start = rec
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline and process_start(pid, running_only=True) == start:
                    _reap(pid)
                    time.sleep(0.01)
                if process_start(pid, running_only=True) != start:
                    break
            stopped = True
            _reap(pid)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(pidfile)
        return stopped


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def netem_available() -> bool:
    """Whether tc netem (delay/loss) works here: tried on lo of a throwaway namespace."""
    done = subprocess.run(["unshare", "--net", "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"],
                          capture_output=True, check=False, timeout=10)
    return done.returncode == 0


def tcp_connect(ns_path: str, ip: str, port: int, timeout: float = 2.0) -> bool:
    """Open a TCP connection from inside a namespace (the socket stays in the namespace it was born in)."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with inside(ns_path):
        sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect((ip, port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def ping(ns_path: str, ip: str, *, size: int | None = None, dont_fragment: bool = False, timeout: float = 2.0) -> bool:
    program = which("ping")
    if program is None:
        raise NotFound(what="program", name="ping", fix="install it (apt-get install iputils-ping)")
    argv = ["nsenter", f"--net={ns_path}", "--", program, "-n", "-c", "1", "-W", str(int(timeout))]
    if dont_fragment:
        argv += ["-M", "do"]
    if size is not None:
        argv += ["-s", str(size)]
    done = subprocess.run([*argv, ip], capture_output=True, check=False, timeout=timeout + 5)
    return done.returncode == 0


def addresses(ns_path: str, ifname: str) -> list[str]:
    """The IPv4 addresses (no prefix) of an interface inside a namespace; [] when it has none."""
    argv = ["nsenter", f"--net={ns_path}", "--", *resolve_program(["ip", "-o", "-4", "addr", "show", "dev", ifname])]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=10)
    return [line.split()[3].split("/")[0] for line in done.stdout.splitlines() if len(line.split()) > 3]


def run_interactive(ns_path: str, argv: list[str], env: dict[str, str] | None = None) -> int:
    """Run a command inside a namespace on this terminal (lab exec); returns its exit status.
    `env` adds variables (a lab host's OVS_RUNDIR, so that ovs-vsctl finds its own switch)."""
    full_env = {**os.environ, **env} if env else None
    return subprocess.run(["nsenter", f"--net={ns_path}", "--", *resolve_program(argv)], check=False,
                          env=full_env).returncode


def run_captured(ns_path: str, argv: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """The same, with the output captured: (exit status, stdout, stderr)."""
    full_env = {**os.environ, **env} if env else None
    done = subprocess.run(["nsenter", f"--net={ns_path}", "--", *resolve_program(argv)], check=False,
                          env=full_env, capture_output=True, text=True)
    return done.returncode, done.stdout, done.stderr


def render_graphviz(dot_text: str, fmt: str) -> bytes:
    if which("dot") is None:
        raise NotFound(what="program", name="dot", fix="install it (apt-get install graphviz)")
    done = subprocess.run(["dot", f"-T{fmt}"], input=dot_text.encode(), capture_output=True, check=False, timeout=60)
    if done.returncode != 0:
        raise Unsupported(feature=f"graphviz {fmt} output", why=done.stderr.decode(errors="replace").strip())
    return done.stdout

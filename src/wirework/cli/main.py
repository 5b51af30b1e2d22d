"""Entry point of the `wirework` command, kept to the standard library on purpose.

The fast path is the default and needs no manual step:
- when the resident service answers on its socket (`/run/wirework/wireworkd.sock`, env
  `WIREWORK_SOCKET`), the argument vector goes over the socket and the service runs the very
  same command code with everything already loaded (~30 ms a command);
- when none answers, this process runs the command itself, on the trimmed import path, and
  then starts a service in the background (detached, logged to SOCKET.log, exiting after
  `WIREWORK_SERVICE_IDLE` seconds without requests, 600 by default); later commands go
  through it. `WIREWORK_NO_SERVICE=1` opts out of both.
Commands that need this terminal or manage the service (run, lab, uplink, service) always run
here.
"""

from __future__ import annotations

import os
import sys

SOCKET_ENV = "WIREWORK_SOCKET"
DEFAULT_SOCKET = "/run/wirework/wireworkd.sock"
NO_SERVICE_ENV = "WIREWORK_NO_SERVICE"
IDLE_ENV = "WIREWORK_SERVICE_IDLE"
#: The started service loads at SCHED_IDLE (~0.5 s of CPU) so as not to slow down the very command
#: that started it on a busy machine, and serves at the normal policy once loaded.
LOW_PRIORITY_START = "--low-priority-start"
DEFAULT_IDLE = 600
# Commands the service must not run: they take over the terminal, run for long, or manage it.
LOCAL_ONLY = {"service", "run", "lab", "help", "--help", "-h", "--version", "uplink", "agent"}
FORWARDED_ENV_PREFIXES = ("WIREWORK_", "DOCKER_HOST", "DOCKER_TLS_VERIFY", "CNI_")
#: Variables a started service must not inherit from the command that started it: every
#: per-request WIREWORK_* setting (each request brings its own; test-only fault injection must
#: never reach a shared service) but these, a CNI runtime's CNI_* (they describe one request),
#: and systemd's variables meant for this process.
_SERVICE_ENV = ("WIREWORK_SOCKET", "WIREWORK_SERVICE_IDLE", "WIREWORK_SOCKET_GROUP")
_NOT_INHERITED = ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET")


def socket_path() -> str:
    return os.environ.get(SOCKET_ENV) or DEFAULT_SOCKET


def idle_timeout() -> int:
    try:
        return int(os.environ.get(IDLE_ENV) or DEFAULT_IDLE)
    except ValueError:
        return DEFAULT_IDLE


def _local_only(argv: list[str]) -> bool:
    # pipework --wait runs inside a container and watches its own /sys: never in the service.
    return not argv or argv[0] in LOCAL_ONLY or (argv[0] == "pipework" and "--wait" in argv)


def _connect(path: str) -> object | None:
    """A connected socket to the service, or None when none listens there."""
    # _socket rather than socket: the wrapper module imports enum and selectors (~3 ms).
    import _socket

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        return None
    return sock


def _via_service(argv: list[str], sock: object) -> int | None:
    import _socket

    from wirework.cli.wire import decode_answer, encode_request

    assert isinstance(sock, _socket.socket)
    stdin = None
    if sys.stdin is not None and not sys.stdin.isatty() and _wants_stdin(argv):
        stdin = sys.stdin.read()
    env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV_PREFIXES)}
    request = encode_request(argv, env, os.getcwd(), stdin)
    chunks = []
    try:
        sock.settimeout(600)
        try:
            sock.sendall(request)
            sock.shutdown(_socket.SHUT_WR)
        except OSError:
            pass  # it may have answered without reading (a refusal): read that answer below
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except OSError:
        if not chunks:
            return None  # the service went away before answering (idle exit racing us): run here
    finally:
        sock.close()
    try:
        code, out, err = decode_answer(b"".join(chunks))
    except Exception:
        return None
    if os.environ.get("WIREWORK_TRACE"):
        sys.stderr.write(f"wirework: served by the service at {socket_path()}\n")
    sys.stdout.write(out)
    sys.stderr.write(err)
    return code


def _wants_stdin(argv: list[str]) -> bool:
    return "-" in argv or argv[:2] == ["cni", "plugin"]


def _as_cni_plugin() -> list[str]:
    """Exec'd by a CNI runtime (no arguments, CNI_COMMAND set): serve the plugin protocol.
    The namespace it runs in goes along, so a service elsewhere can refuse the mismatch."""
    st = os.stat("/proc/self/ns/net")
    os.environ["WIREWORK_CLIENT_NETNS"] = f"{st.st_dev}:{st.st_ino}"
    return ["cni", "plugin"]


def start_service_background(path: str) -> str | None:
    """Start the service detached and return at once; an error line when it cannot start."""
    failed = path + ".failed"
    try:
        with open(failed, encoding="utf-8", errors="replace") as f:
            reason = f.read().strip() or "no reason given"
        os.unlink(failed)
        return f"the service could not start last time ({reason}); see {path}.log"
    except OSError:
        pass
    env = {k: v for k, v in os.environ.items()
           if k not in _NOT_INHERITED and not k.startswith("CNI_")
           and (not k.startswith("WIREWORK_") or k in _SERVICE_ENV)}
    argv = [sys.executable, "-m", "wirework.service", LOW_PRIORITY_START, "--socket", path,
            "--idle-exit", str(idle_timeout())]
    try:
        os.makedirs(os.path.dirname(path) or ".", mode=0o755, exist_ok=True)
        log = os.open(path + ".log", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            # posix_spawn, not subprocess: subprocess imports ~15 modules on this hot path.
            os.posix_spawn(sys.executable, argv, env, setsid=True, file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, log, 1),
                (os.POSIX_SPAWN_DUP2, log, 2),
            ])
        finally:
            os.close(log)
    except OSError as exc:
        return f"cannot start the service at {path}: {exc.strerror or exc}"
    return None


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args and os.environ.get("CNI_COMMAND"):
        args = _as_cni_plugin()
    start_after = None
    if not os.environ.get(NO_SERVICE_ENV) and not _local_only(args):
        path = socket_path()
        sock = _connect(path)
        if sock is not None:
            code = _via_service(args, sock)
            if code is not None:
                return code
        else:
            start_after = path
    from wirework.cli.app import run

    try:
        return run(args)
    finally:
        # Started once this command is done, not before: its loading (~0.3 s of CPU) would
        # compete with this very command on a small machine; the next command finds it up.
        if start_after is not None:
            problem = start_service_background(start_after)
            if problem:
                sys.stderr.write(f"wirework: {problem}; ran this command here"
                                 f" (set {NO_SERVICE_ENV}=1 not to use a service)\n")


if __name__ == "__main__":
    sys.exit(main())

"""Entry point of the `wirework` command, kept to the standard library on purpose.

Importing pyroute2 costs ~0.25 s, more than the whole budget of one `wirework attach`. So
when the resident service (`wirework service start`) runs, this module sends the argument
vector over its unix socket and prints the answer; the service runs the very same command
code in-process with everything already loaded. Without a service, or for commands that
need this terminal (run, lab exec, service itself), the command runs here.
"""

from __future__ import annotations

import json
import os
import socket
import sys

SOCKET_ENV = "WIREWORK_SOCKET"
DEFAULT_SOCKET = "/run/wirework/wireworkd.sock"
NO_SERVICE_ENV = "WIREWORK_NO_SERVICE"
# Commands the service must not run: they take over the terminal, run for long, or manage it.
LOCAL_ONLY = {"service", "run", "lab", "help", "--help", "-h", "--version", "uplink"}
FORWARDED_ENV_PREFIXES = ("WIREWORK_", "DOCKER_HOST")


def socket_path() -> str:
    return os.environ.get(SOCKET_ENV) or DEFAULT_SOCKET


def _via_service(argv: list[str]) -> int | None:
    if os.environ.get(NO_SERVICE_ENV) or not argv or argv[0] in LOCAL_ONLY:
        return None
    path = socket_path()
    if not os.path.exists(path):
        return None
    request = {
        "argv": argv,
        "env": {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV_PREFIXES)},
        "cwd": os.getcwd(),
        "stdin": None if sys.stdin is None or sys.stdin.isatty() or not _wants_stdin(argv) else sys.stdin.read(),
    }
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(300)
            sock.connect(path)
            sock.sendall(json.dumps(request).encode() + b"\n")
            sock.shutdown(socket.SHUT_WR)
            raw = b"".join(iter(lambda: sock.recv(65536), b""))
    except OSError:
        return None  # no service after all (stale socket): run here
    try:
        answer = json.loads(raw)
    except json.JSONDecodeError:
        return None
    if os.environ.get("WIREWORK_TRACE"):
        sys.stderr.write(f"wirework: served by the service at {path}\n")
    sys.stdout.write(answer.get("stdout", ""))
    sys.stderr.write(answer.get("stderr", ""))
    return int(answer.get("exit", 1))


def _wants_stdin(argv: list[str]) -> bool:
    return "-" in argv


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    code = _via_service(args)
    if code is not None:
        return code
    from wirework.cli.app import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())

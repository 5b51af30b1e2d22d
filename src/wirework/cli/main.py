"""Entry point of the `wirework` command, kept to the standard library on purpose.

Importing pyroute2 costs ~0.25 s, more than the whole budget of one `wirework attach`. So
when the resident service (`wirework service start`) runs, this module sends the argument
vector over its unix socket and prints the answer; the service runs the very same command
code in-process with everything already loaded. Without a service, or for commands that
need this terminal (run, lab exec, service itself), the command runs here.
"""

from __future__ import annotations

import os
import sys

SOCKET_ENV = "WIREWORK_SOCKET"
DEFAULT_SOCKET = "/run/wirework/wireworkd.sock"
NO_SERVICE_ENV = "WIREWORK_NO_SERVICE"
# Commands the service must not run: they take over the terminal, run for long, or manage it.
LOCAL_ONLY = {"service", "run", "lab", "help", "--help", "-h", "--version", "uplink"}
FORWARDED_ENV_PREFIXES = ("WIREWORK_", "DOCKER_HOST", "CNI_")


def socket_path() -> str:
    return os.environ.get(SOCKET_ENV) or DEFAULT_SOCKET


def _local_only(argv: list[str]) -> bool:
    # pipework --wait runs inside a container and watches its own /sys: never in the service.
    return not argv or argv[0] in LOCAL_ONLY or (argv[0] == "pipework" and "--wait" in argv)


def _via_service(argv: list[str]) -> int | None:
    if os.environ.get(NO_SERVICE_ENV) or _local_only(argv):
        return None
    path = socket_path()
    if not os.path.exists(path):
        return None
    # _socket rather than socket: the wrapper module imports enum and selectors (~3 ms).
    import _socket

    from wirework.cli.wire import decode_answer, encode_request

    stdin = None
    if sys.stdin is not None and not sys.stdin.isatty() and _wants_stdin(argv):
        stdin = sys.stdin.read()
    env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV_PREFIXES)}
    request = encode_request(argv, env, os.getcwd(), stdin)
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(600)
        sock.connect(path)
        sock.sendall(request)
        sock.shutdown(_socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except OSError:
        return None  # no service after all (a stale socket): run here
    finally:
        sock.close()
    try:
        code, out, err = decode_answer(b"".join(chunks))
    except Exception:
        return None
    if os.environ.get("WIREWORK_TRACE"):
        sys.stderr.write(f"wirework: served by the service at {path}\n")
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


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args and os.environ.get("CNI_COMMAND"):
        args = _as_cni_plugin()
    code = _via_service(args)
    if code is not None:
        return code
    from wirework.cli.app import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())

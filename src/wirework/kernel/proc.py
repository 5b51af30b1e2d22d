"""Running the few programs wirework drives (ovs-vsctl, iptables, tc, DHCP clients), and
telling whether the process that wrote a record is still alive.

Never a shell: argv lists only. A namespace is entered with nsenter so that the program,
not this process, moves. A pid alone can be reused after its process ends; the start time
(field 22 of /proc/PID/stat) cannot, so records that name a process (journals, IPAM leases,
guests started by `wirework run`) store both.
"""

from __future__ import annotations

import shutil
import subprocess
import threading

from wirework.errors import NotFound, WireworkError

#: Where programs are looked for, whatever PATH this process was started with (sudo, systemd).
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def which(program: str) -> str | None:
    """The program's path on `SYSTEM_PATH`, or None."""
    return shutil.which(program, path=SYSTEM_PATH)


class ProgramFailed(WireworkError):
    template = "{program} failed: {detail}"


class Processes:
    def __init__(self, netns_path: str | None = None) -> None:
        self.netns_path = netns_path

    def which(self, program: str) -> str | None:
        return which(program)

    def run_in(self, ns: str | None, argv: list[str], *, timeout: float = 30.0, input_text: str | None = None) -> str:
        """Run argv inside `ns` (None: this host's netns) and return its stdout."""
        return self.run(argv, timeout=timeout, input_text=input_text, netns=ns or self.netns_path)

    def run(
        self, argv: list[str], *, timeout: float = 30.0, input_text: str | None = None, netns: str | None = None
    ) -> str:
        """Run argv in this process's netns, or inside `netns` when given."""
        target = netns
        program = self.which(argv[0])
        if program is None:
            raise NotFound(what="program", name=argv[0], fix=f"install it (apt-get install {_package(argv[0])})")
        full = [program, *argv[1:]]
        if target is not None:
            full = ["nsenter", f"--net={target}", "--", *full]
        try:
            done = subprocess.run(full, capture_output=True, text=True, timeout=timeout, input=input_text, check=False)
        except subprocess.TimeoutExpired:
            raise ProgramFailed(program=argv[0], detail=f"no answer within {timeout:.0f} s") from None
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise ProgramFailed(program=" ".join(argv[:3]), detail=detail[-1] if detail else f"exit {done.returncode}")
        return done.stdout


def spawn_detached(argv: list[str], *, env: dict[str, str] | None = None, log: str | None = None) -> int:
    """Start argv in a session of its own, cut from this terminal (a lost SSH session's SIGHUP
    does not reach it); returns its PID. A thread reaps it should this process outlive it."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    try:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True, close_fds=True, env=env)
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    threading.Thread(target=child.wait, daemon=True).start()
    return child.pid


def _package(program: str) -> str:
    return {
        "ovs-vsctl": "openvswitch-switch",
        "iptables": "iptables",
        "tc": "iproute2",
        "udhcpc": "busybox-static",
        "dhclient": "isc-dhcp-client",
        "nsenter": "util-linux",
    }.get(program, program)


def process_start(pid: int, *, running_only: bool = False) -> str:
    """The start time of `pid` from /proc ("" when there is no such process). With
    `running_only`, "" too once it has ended and waits to be reaped (a zombie): whoever stops
    a daemon by its pidfile must see it gone then."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            # The name (field 2) may hold spaces and parentheses: split after its last ")".
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return ""
    return "" if running_only and fields[0] in ("Z", "X") else fields[19]


def write_pidfile(path: str, pid: int, start: str) -> None:
    """Write "PID START" to path: with the start time a reused PID is never taken for this process."""
    with open(path, "w", encoding="ascii") as f:
        f.write(f"{pid} {start}\n")


def read_pidfile(path: str) -> tuple[int, str] | None:
    """(PID, start) from a pidfile `write_pidfile` wrote; None when absent or unreadable."""
    try:
        with open(path, encoding="ascii") as f:
            pid, start = f.read().split()
        return int(pid), start
    except (OSError, ValueError):
        return None


def read_text(path: str) -> str:
    """A file's text ("" when it cannot be read): a program's log, a configuration that may be
    absent. Undecodable bytes are replaced: such files are shown, never parsed strictly."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def process_alive(pid: int, start: object) -> bool:
    """True when `pid` runs and is the very process that started at `start`."""
    return pid > 0 and bool(start) and process_start(pid) == start

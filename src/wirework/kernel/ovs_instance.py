"""A private Open vSwitch instance (ovsdb-server + ovs-vswitchd) serving one network namespace.

Each lab host or test "host" gets its own database, sockets, pidfiles and logs under one run
directory; both daemons are started inside the namespace they serve (nsenter, through the
Processes adapter) so that the userspace datapath's ports live there. `KernelHost(netns,
ovs_db=instance.db_socket)` then drives it like the system's switch.

Stopping asks each daemon to exit over its own control socket, then signals only the process
whose PID this instance wrote into its pidfile (after checking that PID still runs that program).
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass

from wirework.errors import InvalidInput, NotFound
from wirework.kernel.netns import netns_path
from wirework.kernel.proc import Processes, ProgramFailed

SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
#: sun_path holds 108 bytes; the control sockets get a little longer than the directory.
_MAX_RUNDIR = 90


@dataclass(frozen=True)
class OvsInstance:
    """Where one private instance keeps its files; methods query and stop it."""

    netns: str | None
    rundir: str

    @property
    def db_path(self) -> str:
        return os.path.join(self.rundir, "conf.db")

    @property
    def db_socket(self) -> str:
        return os.path.join(self.rundir, "db.sock")

    @property
    def ovsdb_pidfile(self) -> str:
        return os.path.join(self.rundir, "ovsdb-server.pid")

    @property
    def vswitchd_pidfile(self) -> str:
        return os.path.join(self.rundir, "ovs-vswitchd.pid")

    @property
    def ovsdb_ctl(self) -> str:
        return os.path.join(self.rundir, "ovsdb-server.ctl")

    @property
    def vswitchd_ctl(self) -> str:
        return os.path.join(self.rundir, "ovs-vswitchd.ctl")

    def log_file(self, program: str) -> str:
        return os.path.join(self.rundir, f"{program}.log")

    def env(self) -> list[str]:
        """VAR=value words for `env`: every default path of the daemons points into rundir."""
        return [f"{var}={self.rundir}" for var in ("OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR")]

    def running(self) -> bool:
        """Both daemons alive (by the PIDs in this instance's pidfiles) and the socket present."""
        return (
            _live_pid(self.ovsdb_pidfile, "ovsdb-server") is not None
            and _live_pid(self.vswitchd_pidfile, "ovs-vswitchd") is not None
            and os.path.exists(self.db_socket)
        )

    def stop(self, *, timeout: float = 3.0) -> None:
        """Stop both daemons (vswitchd first); tolerant of either being gone already."""
        proc = Processes()
        for ctl, pidfile, program in (
            (self.vswitchd_ctl, self.vswitchd_pidfile, "ovs-vswitchd"),
            (self.ovsdb_ctl, self.ovsdb_pidfile, "ovsdb-server"),
        ):
            pid = _live_pid(pidfile, program)
            if pid is None:
                continue
            if os.path.exists(ctl):
                try:
                    proc.run(["ovs-appctl", "-t", ctl, "exit"], timeout=timeout)
                except ProgramFailed:
                    pass  # not answering: the signals below end it
            _wait_gone(pid, program, timeout, proc_signal=signal.SIGTERM)
        for path in (self.db_socket, self.ovsdb_ctl, self.vswitchd_ctl):
            if os.path.exists(path):
                os.unlink(path)


#: Where a namespace's instance lives unless told otherwise (`KernelHost(netns)` finds it there).
DEFAULT_ROOT = "/run/wirework/ovs"


def default_rundir(netns: str) -> str:
    return os.path.join(DEFAULT_ROOT, os.path.basename(netns))


def socket_for(netns: str | None) -> str | None:
    """The db socket of the instance serving `netns` from its default rundir, if one runs there."""
    if not netns:
        return None
    sock = os.path.join(default_rundir(netns), "db.sock")
    return sock if os.path.exists(sock) else None


def instance_at(netns: str | None, rundir: str) -> OvsInstance:
    """The instance whose files live in rundir (started or not) — e.g. to stop it later."""
    return OvsInstance(netns=netns, rundir=os.path.abspath(rundir))


def start_instance(netns: str | None, rundir: str | None = None, *, timeout: float = 10.0) -> OvsInstance:
    """Start (or find running) the private instance for `netns` with its files in rundir.

    rundir None: `default_rundir(netns)`, where `KernelHost(netns)` finds the socket by itself.
    """
    if rundir is None:
        if not netns:
            raise InvalidInput(what="OVS run directory", value="", why="name one for an instance outside a netns")
        rundir = default_rundir(netns)
    inst = instance_at(netns, rundir)
    if len(inst.rundir) > _MAX_RUNDIR:
        why = f"longer than {_MAX_RUNDIR} characters (unix socket paths are limited)"
        raise InvalidInput(what="OVS run directory", value=inst.rundir, why=why)
    if inst.running():
        return inst
    os.makedirs(inst.rundir, mode=0o750, exist_ok=True)
    target = netns_path(netns) if netns else None
    if target is not None and not os.path.exists(target):
        raise NotFound(what="network namespace", name=netns)
    proc = Processes(target)
    if not os.path.exists(inst.db_path):
        proc.run(["ovsdb-tool", "create", inst.db_path, SCHEMA], timeout=timeout)
    if _live_pid(inst.ovsdb_pidfile, "ovsdb-server") is None:
        _start_daemon(proc, inst, "ovsdb-server", [
            inst.db_path, f"--remote=punix:{inst.db_socket}", f"--pidfile={inst.ovsdb_pidfile}",
            f"--unixctl={inst.ovsdb_ctl}", "--detach", f"--log-file={inst.log_file('ovsdb-server')}",
        ], timeout)
        proc.run(["ovs-vsctl", f"--db=unix:{inst.db_socket}", "--no-wait", "init"], timeout=timeout)
    if _live_pid(inst.vswitchd_pidfile, "ovs-vswitchd") is None:
        _start_daemon(proc, inst, "ovs-vswitchd", [
            f"unix:{inst.db_socket}", f"--pidfile={inst.vswitchd_pidfile}", f"--unixctl={inst.vswitchd_ctl}",
            "--detach", f"--log-file={inst.log_file('ovs-vswitchd')}",
        ], timeout)
    return inst


def _start_daemon(proc: Processes, inst: OvsInstance, program: str, args: list[str], timeout: float) -> None:
    path = proc.which(program)
    if path is None:
        raise NotFound(what="program", name=program, fix="install it (apt-get install openvswitch-switch)")
    # `env` sets the daemon's default directories; the program then runs inside the netns.
    proc.run(["env", *inst.env(), path, *args], timeout=timeout, netns=proc.netns_path)


def _read_pid(pidfile: str) -> int | None:
    try:
        with open(pidfile, encoding="ascii") as fh:
            return int(fh.read().strip() or "0") or None
    except (OSError, ValueError):
        return None


def _runs(pid: int, program: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv0 = fh.read().split(b"\0", 1)[0].decode(errors="replace")
    except OSError:
        return False
    return os.path.basename(argv0).startswith(program)


def _live_pid(pidfile: str, program: str) -> int | None:
    pid = _read_pid(pidfile)
    return pid if pid is not None and _runs(pid, program) else None


def _wait_gone(pid: int, program: str, timeout: float, *, proc_signal: signal.Signals) -> None:
    """Wait for pid to exit; then SIGTERM, then SIGKILL — only while it still runs `program`."""
    for sig in (None, proc_signal, signal.SIGKILL):
        if sig is not None and _runs(pid, program):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _runs(pid, program):
                return
            time.sleep(0.02)

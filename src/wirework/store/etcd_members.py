"""etcd servers on this machine: one or three members of Debian's `etcd-server`, for tests and labs.

A cluster lives in one run directory on tmpfs (`/dev/shm/wirework-etcd/<tag>/` by default):
`cluster.json` (the layout and who owns it), and per member its data dir, a pidfile holding the
PID and the process start time, and a log. Members listen on loopback or on an address inside a
network namespace (started through nsenter, which execs, so the PID is etcd's), with the fast
settings that make a member healthy in about 0.1 s (heartbeat 10 ms, election 100 ms).

Stopping signals only the PID a pidfile names while that process still has the recorded start
time: never by name or pattern. A cluster started for a process (`owner_pid`, e.g. a test run)
is an orphan once that process is gone; `stop_orphans` stops such clusters left by a crashed run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import ssl
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from wirework.errors import InvalidInput, Unsupported
from wirework.kernel.proc import process_start, read_pidfile
from wirework.store.etcd_process import free_ports, http_get, spawn, stop_pid

RUN_ROOT = "/dev/shm/wirework-etcd"  # tmpfs: the data dirs never touch the disk
_FAST = ("--heartbeat-interval", "10", "--election-timeout", "100")


@dataclass(frozen=True)
class TlsFiles:
    """Server certificate and key; clients must present a certificate signed by `ca`."""

    ca: str
    cert: str
    key: str


@dataclass(frozen=True)
class Member:
    name: str
    host: str
    client_port: int
    peer_port: int

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://{self.host}:{self.peer_port}"


@dataclass(frozen=True)
class EtcdCluster:
    """A cluster's layout and files; methods start, probe and stop its members."""

    tag: str
    root: str
    members: tuple[Member, ...]
    netns: str | None = None
    tls: TlsFiles | None = None
    owner_pid: int | None = None
    owner_start: str = ""
    extra_args: tuple[str, ...] = field(default=())

    # -- where things are ------------------------------------------------------------------
    @property
    def endpoints(self) -> list[str]:
        return [m.endpoint for m in self.members]

    @property
    def url(self) -> str:
        """The `--store` URL of this cluster (etcds:// when it serves TLS)."""
        return ("etcds://" if self.tls else "etcd://") + ",".join(self.endpoints)

    def data_dir(self, member: Member) -> str:
        return os.path.join(self.root, member.name)

    def pidfile(self, member: Member) -> str:
        return os.path.join(self.root, f"{member.name}.pid")

    def log(self, member: Member) -> str:
        return os.path.join(self.root, f"{member.name}.log")

    def member(self, index_or_name: int | str) -> Member:
        if isinstance(index_or_name, int):
            return self.members[index_or_name]
        return next(m for m in self.members if m.name == index_or_name)

    # -- processes -------------------------------------------------------------------------
    def argv(self, member: Member) -> list[str]:
        scheme = "https" if self.tls else "http"
        client = f"{scheme}://{member.endpoint}"
        argv = ["--name", member.name, "--data-dir", self.data_dir(member),
                "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", member.peer_url, "--initial-advertise-peer-urls", member.peer_url,
                "--initial-cluster", ",".join(f"{m.name}={m.peer_url}" for m in self.members),
                "--initial-cluster-state", "new", "--initial-cluster-token", self.tag, *_FAST]
        if self.tls:
            argv += ["--cert-file", self.tls.cert, "--key-file", self.tls.key,
                     "--client-cert-auth", "--trusted-ca-file", self.tls.ca]
        return argv + list(self.extra_args)

    def start_member(self, index_or_name: int | str) -> int:
        """Start one member (again, with its data dir kept); returns its PID."""
        member = self.member(index_or_name)
        running = self.pid(member.name)
        if running is not None:
            return running
        return spawn(["etcd", *self.argv(member)], self.log(member), self.pidfile(member), self.netns,
                     package="etcd-server")

    def pid(self, index_or_name: int | str) -> int | None:
        member = self.member(index_or_name)
        rec = read_pidfile(self.pidfile(member))
        return rec[0] if rec is not None and process_start(rec[0], running_only=True) == rec[1] else None

    def alive(self, index_or_name: int | str) -> bool:
        return self.pid(index_or_name) is not None

    def kill(self, index_or_name: int | str) -> None:
        """SIGKILL one member by its recorded PID (a crash, for fault tests); its data stays."""
        self._signal_member(self.member(index_or_name), (signal.SIGKILL,))

    def stop_member(self, index_or_name: int | str) -> None:
        self._signal_member(self.member(index_or_name), (signal.SIGTERM, signal.SIGKILL))

    def stop(self, *, remove: bool = True) -> None:
        """Stop every member (SIGTERM, then SIGKILL); remove the run directory unless told not to."""
        for member in self.members:
            self.stop_member(member.name)
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)

    def _signal_member(self, member: Member, signals: Sequence[signal.Signals]) -> None:
        rec = read_pidfile(self.pidfile(member))
        if rec is not None:
            stop_pid(rec[0], rec[1], signals)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.pidfile(member))

    # -- health ----------------------------------------------------------------------------
    def healthy(self, index_or_name: int | str, client_tls: TlsFiles | None = None) -> bool:
        """The member answers GET /health with health true (it has a leader)."""
        member = self.member(index_or_name)
        try:
            tls = (client_tls.ca, client_tls.cert, client_tls.key) if self.tls and client_tls else None
            body = http_get(member.host, member.client_port, "/health", self.netns, tls)
        except (OSError, ssl.SSLError):
            return False
        return b'"health":"true"' in body

    def wait_healthy(self, timeout: float = 15.0, client_tls: TlsFiles | None = None,
                     members: Sequence[int | str] | None = None) -> None:
        """Wait until every (given) member is healthy; a member that exits or the deadline raises."""
        deadline = time.monotonic() + timeout
        waiting = [self.member(m) for m in (members if members is not None else range(len(self.members)))]
        while waiting:
            for member in list(waiting):
                if not self.alive(member.name):
                    raise Unsupported(feature=f"etcd member {member.name}", why=f"it exited at start: {self.tail(member)}")
                if self.healthy(member.name, client_tls):
                    waiting.remove(member)
            if waiting and time.monotonic() > deadline:
                names = ", ".join(m.name for m in waiting)
                raise Unsupported(feature=f"etcd member(s) {names}",
                                  why=f"not healthy within {timeout:.0f} s; see {self.log(waiting[0])}")
            if waiting:
                time.sleep(0.02)

    def tail(self, member: Member, lines: int = 2) -> str:
        try:
            with open(self.log(member), encoding="utf-8", errors="replace") as f:
                return " | ".join(line.strip() for line in f.read().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def start(self, timeout: float = 20.0, client_tls: TlsFiles | None = None) -> EtcdCluster:
        """Record the layout, start every member, wait until all are healthy (or stop them all)."""
        existing = load_cluster(self.root)
        if existing is not None:
            existing.stop()  # a leftover under this tag: ours by its name, stopped by its PIDs
        self.save()
        try:
            for member in self.members:
                self.start_member(member.name)
            self.wait_healthy(timeout, client_tls)
        except BaseException:
            self.stop()
            raise
        return self

    # -- records ---------------------------------------------------------------------------
    def save(self) -> None:
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        with open(os.path.join(self.root, "cluster.json"), "w", encoding="utf-8") as f:
            json.dump(asdict(self), f, indent=1)


def load_cluster(root: str) -> EtcdCluster | None:
    """The cluster recorded in `root` (started or not), None when nothing is recorded there."""
    try:
        with open(os.path.join(root, "cluster.json"), encoding="utf-8") as f:
            return cluster_from_dict(json.load(f))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def cluster_to_json(cluster: EtcdCluster) -> str:
    return json.dumps(asdict(cluster), sort_keys=True)


def cluster_from_dict(raw: dict[str, Any]) -> EtcdCluster:
    tls = TlsFiles(**raw["tls"]) if raw.get("tls") else None
    members = tuple(Member(**m) for m in raw["members"])
    return EtcdCluster(raw["tag"], raw["root"], members, raw.get("netns"), tls, raw.get("owner_pid"),
                       raw.get("owner_start", ""), tuple(raw.get("extra_args", ())))


def plan_cluster(tag: str, *, members: int = 1, host: str = "127.0.0.1", netns: str | None = None,
                 ports: Sequence[int] | None = None, run_root: str = RUN_ROOT, tls: TlsFiles | None = None,
                 owner_pid: int | None = None, extra_args: Sequence[str] = ()) -> EtcdCluster:
    """The layout of a cluster: member names, addresses, ports (free ones unless given)."""
    if members not in (1, 3):
        raise InvalidInput(what="etcd member count", value=members, why="an etcd cluster here has 1 or 3 members")
    if not tag or "/" in tag or len(tag) > 40:
        raise InvalidInput(what="etcd cluster tag", value=tag, why="use 1-40 characters without '/'")
    needed = 2 * members
    chosen = list(ports) if ports is not None else free_ports(host, needed, netns)
    if len(chosen) != needed:
        raise InvalidInput(what="etcd ports", value=list(chosen), why=f"{members} members need {needed} ports")
    layout = tuple(Member(f"ww-{tag}-{i}", host, chosen[2 * i], chosen[2 * i + 1]) for i in range(members))
    owner_start = process_start(owner_pid, running_only=True) if owner_pid else ""
    return EtcdCluster(tag, os.path.join(run_root, tag), layout, netns, tls, owner_pid, owner_start,
                       tuple(extra_args))


def start_cluster(tag: str, *, members: int = 1, timeout: float = 20.0, client_tls: TlsFiles | None = None,
                  attempts: int = 3, **layout: object) -> EtcdCluster:
    """Plan, record, start and wait for a cluster; another process taking a port means new ports."""
    for attempt in range(attempts):
        cluster = plan_cluster(tag, members=members, **layout)  # type: ignore[arg-type]
        try:
            return cluster.start(timeout, client_tls)
        except Unsupported as exc:
            raced = "address already in use" in str(exc)
            if not raced or attempt == attempts - 1 or layout.get("ports") is not None:
                raise
    raise AssertionError("unreachable")


def stop_orphans(run_root: str = RUN_ROOT) -> list[str]:
    """Stop clusters under run_root whose owning process is gone (left by a crashed run)."""
    stopped = []
    with contextlib.suppress(FileNotFoundError):
        for tag in sorted(os.listdir(run_root)):
            cluster = load_cluster(os.path.join(run_root, tag))
            if cluster is None or cluster.owner_pid is None:
                continue  # owned by a lab (stopped by its `down`), or not a cluster
            if process_start(cluster.owner_pid, running_only=True) != cluster.owner_start:
                cluster.stop()
                stopped.append(tag)
    return stopped

"""The lab's own step kinds: guest programs, private OVS instances, host setup, and the check
of a namespace found in place (namespaces are made and deleted by `drivers.namespaces`).

Like every step they are frozen plain values registered by kind, so the lab's plan is
journaled and rolled back by the one executor. None needs a journal record of its own: they
act on what the lab made (tagged namespaces, its pidfiles and OVS run directories). They reach the machine through `host.lab`
(`LabOps`), which only the lab's runtime host has; `HostSetup` runs one item of a host's
`setup:` through that host's own `Wirework` session.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from wirework.errors import Conflict, StateError
from wirework.lab import kinds
from wirework.lab.model import Item
from wirework.model.host import Host
from wirework.naming import owner_of
from wirework.plan.commands import for_host, run_in
from wirework.plan.steps import Step, register


class LabOps(Protocol):
    def ns_create(self, name: str) -> bool: ...
    def ns_delete(self, name: str) -> bool: ...
    def ns_exists(self, name: str) -> bool: ...
    def daemon_start(self, ns_path: str, argv: list[str], pidfile: str, log: str) -> None: ...
    def daemon_stop(self, pidfile: str) -> bool: ...
    def daemon_alive(self, pidfile: str) -> bool: ...
    def ovs_start(self, netns: str, rundir: str) -> None: ...
    def ovs_stop(self, netns: str, rundir: str) -> None: ...
    def ovs_running(self, netns: str, rundir: str) -> bool: ...
    def session(self, netns: str, state_dir: str, ovs_db: str | None) -> Any: ...


def lab_ops(host: Host) -> LabOps:
    ops: LabOps | None = getattr(host, "lab", None)
    if ops is None:
        raise StateError("a lab step was run outside a lab (the journal belongs to 'wirework lab')")
    return ops


def _path(name: str) -> str:
    return "/run/netns/" + name


@register
@dataclass(frozen=True)
class VerifyNetns(Step):
    """A namespace found in place on a converging run: check it is the lab's, bring lo up."""

    kind = "lab_verify_netns"
    name: str
    owner: str

    def apply(self, host: Host) -> Sequence[Step]:
        lo = host.net.link("lo", _path(self.name))
        if lo is None or owner_of(lo.alias) != self.owner:
            raise Conflict(f"network namespace {self.name} exists and was not made by {self.owner}; remove it first")
        if not lo.up:
            host.net.set_up("lo", _path(self.name))
        return ()

    def changes_existing(self) -> bool:
        return False  # inside the lab's own namespaces, or undone by stopping or deleting them

    def describe(self) -> str:
        return f"check network namespace {self.name} (already there)"


@register
@dataclass(frozen=True)
class StartProgram(Step):
    kind = "lab_start_program"
    guest: str
    ns: str
    argv: tuple[str, ...]
    pidfile: str
    log: str

    def apply(self, host: Host) -> Sequence[Step]:
        ops = lab_ops(host)
        if ops.daemon_alive(self.pidfile):
            return ()
        ops.daemon_start(self.ns, list(self.argv), self.pidfile, self.log)
        return [StopProgram(self.pidfile)]

    def crash_undo(self) -> Sequence[Step]:
        return [StopProgram(self.pidfile)]

    def changes_existing(self) -> bool:
        return False  # inside the lab's own namespaces, or undone by stopping or deleting them

    def describe(self) -> str:
        return f"start '{' '.join(self.argv)}' in guest {self.guest} (log {self.log})"

    def commands(self) -> list[str]:
        argv = " ".join(shlex.quote(a) for a in self.argv)
        return [f"{run_in(self.ns)}{argv} >{shlex.quote(self.log)} 2>&1 </dev/null &"]


@register
@dataclass(frozen=True)
class StopProgram(Step):
    kind = "lab_stop_program"
    pidfile: str

    def apply(self, host: Host) -> Sequence[Step]:
        lab_ops(host).daemon_stop(self.pidfile)
        return ()

    def changes_existing(self) -> bool:
        return False  # inside the lab's own namespaces, or undone by stopping or deleting them

    def describe(self) -> str:
        return f"stop the program whose pidfile is {self.pidfile}"


@register
@dataclass(frozen=True)
class StartOvs(Step):
    kind = "lab_start_ovs"
    host_name: str
    netns: str
    rundir: str

    def apply(self, host: Host) -> Sequence[Step]:
        ops = lab_ops(host)
        if ops.ovs_running(self.netns, self.rundir):
            return ()
        ops.ovs_start(self.netns, self.rundir)
        return [StopOvs(self.netns, self.rundir)]

    def crash_undo(self) -> Sequence[Step]:
        return [StopOvs(self.netns, self.rundir)]

    def changes_existing(self) -> bool:
        return False  # inside the lab's own namespaces, or undone by stopping or deleting them

    def describe(self) -> str:
        return f"start a private Open vSwitch (ovsdb-server + ovs-vswitchd) for host {self.host_name} in {self.rundir}"

    def commands(self) -> list[str]:
        return ovs_start_commands(self.netns, self.rundir)


def ovs_start_commands(netns: str, rundir: str) -> list[str]:
    """What starting a private instance does (`kernel.ovs_instance.start_instance`), as commands."""
    q = shlex.quote
    f = {name: q(os.path.join(rundir, name)) for name in (
        "conf.db", "db.sock", "ovsdb-server.pid", "ovsdb-server.ctl", "ovs-vswitchd.pid", "ovs-vswitchd.ctl",
        "ovsdb-server.log", "ovs-vswitchd.log")}
    env = "env " + " ".join(f"{v}={q(rundir)}" for v in ("OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR"))
    inside = f"ip netns exec {q(netns.rsplit('/', 1)[-1])} "
    return [
        f"mkdir -p {q(rundir)}",
        f"{inside}ovsdb-tool create {f['conf.db']} /usr/share/openvswitch/vswitch.ovsschema",
        f"{inside}{env} ovsdb-server {f['conf.db']} --remote=punix:{f['db.sock']} --pidfile={f['ovsdb-server.pid']} "
        f"--unixctl={f['ovsdb-server.ctl']} --detach --log-file={f['ovsdb-server.log']}",
        f"ovs-vsctl --db=unix:{f['db.sock']} --no-wait init",
        f"{inside}{env} ovs-vswitchd unix:{f['db.sock']} --pidfile={f['ovs-vswitchd.pid']} "
        f"--unixctl={f['ovs-vswitchd.ctl']} --detach --log-file={f['ovs-vswitchd.log']}",
    ]


@register
@dataclass(frozen=True)
class StopOvs(Step):
    kind = "lab_stop_ovs"
    netns: str
    rundir: str

    def apply(self, host: Host) -> Sequence[Step]:
        lab_ops(host).ovs_stop(self.netns, self.rundir)
        return ()

    def changes_existing(self) -> bool:
        return False  # inside the lab's own namespaces, or undone by stopping or deleting them

    def describe(self) -> str:
        return f"stop the private Open vSwitch in {self.rundir}"


@register
@dataclass(frozen=True)
class HostSetup(Step):
    """One `setup:` item of a lab host, applied through that host's own Wirework session."""

    kind = "lab_host_setup"
    host_name: str
    netns: str
    state_dir: str
    ovs_db: str | None
    item_kind: str
    args_json: str
    owner: str

    def item(self) -> Item:
        return Item(self.host_name, self.item_kind, json.loads(self.args_json), 0)

    def session(self, host: Host) -> Any:
        return lab_ops(host).session(self.netns, self.state_dir, self.ovs_db)

    def apply(self, host: Host) -> Sequence[Step]:
        undo = kinds.get(self.item_kind).apply(self.session(host), self.item(), self.owner)
        if undo is None:
            return ()
        return [HostUndo(self.host_name, self.netns, self.state_dir, self.ovs_db, self.item_kind, self.args_json,
                         json.dumps(undo))]

    def crash_undo(self) -> Sequence[Step]:
        return [HostRecover(self.host_name, self.netns, self.state_dir, self.ovs_db)]

    def changes_existing(self) -> bool:
        return False  # inside the lab's own namespaces, or undone by stopping or deleting them

    def describe(self) -> str:
        return f"on {self.host_name}: {kinds.get(self.item_kind).describe(self.item())}"

    def commands(self) -> list[str]:
        kind = kinds.get(self.item_kind)
        if kind.commands is None:
            return [f"# on {self.host_name}: {kind.describe(self.item())} (no shell equivalent)"]
        host = self.netns.rsplit("/", 1)[-1]
        out = []
        for line in kind.commands(self.item(), self.owner):
            if line.startswith("wirework "):  # the same call the lab makes, through the CLI
                env = f"WIREWORK_OVS_DB={shlex.quote(self.ovs_db)} " if self.ovs_db else ""
                line = f"{env}{line} --netns {shlex.quote(host)} --state-dir {shlex.quote(self.state_dir)}"
            out.append(for_host(line, host, self.ovs_db))
        return out


@register
@dataclass(frozen=True)
class HostUndo(Step):
    kind = "lab_host_undo"
    host_name: str
    netns: str
    state_dir: str
    ovs_db: str | None
    item_kind: str
    args_json: str
    undo_json: str

    def apply(self, host: Host) -> Sequence[Step]:
        ops = lab_ops(host)
        if not ops.ns_exists(self.netns.rsplit("/", 1)[-1]):
            return ()  # the host went, and everything set up in it with it
        item = Item(self.host_name, self.item_kind, json.loads(self.args_json), 0)
        kinds.get(self.item_kind).remove(ops.session(self.netns, self.state_dir, self.ovs_db), item,
                                         json.loads(self.undo_json))
        return ()

    def changes_existing(self) -> bool:
        return False  # inside the lab's own namespaces, or undone by stopping or deleting them

    def describe(self) -> str:
        item = Item(self.host_name, self.item_kind, json.loads(self.args_json), 0)
        return f"on {self.host_name}: undo {kinds.get(self.item_kind).describe(item)}"


@register
@dataclass(frozen=True)
class HostRecover(Step):
    """After a crash inside a host setup: let that host's session roll back its own journal."""

    kind = "lab_host_recover"
    host_name: str
    netns: str
    state_dir: str
    ovs_db: str | None

    def apply(self, host: Host) -> Sequence[Step]:
        ops = lab_ops(host)
        if ops.ns_exists(self.netns.rsplit("/", 1)[-1]):
            ops.session(self.netns, self.state_dir, self.ovs_db).recover()
        return ()

    def changes_existing(self) -> bool:
        return False  # inside the lab's own namespaces, or undone by stopping or deleting them

    def describe(self) -> str:
        return f"on {self.host_name}: roll back an interrupted change"

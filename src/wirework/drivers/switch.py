"""Steps on Open vSwitch, on the iptables coexistence rule, on sysctls and programs.

OVS bridges and ports carry their owner in `external_ids`: creating them needs no journal
record (their crash undo is tag-checked). A sysctl, the FORWARD accept and a program change
what was there before: `prepare` reads it, and the executor journals the undo first.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from wirework.errors import WireworkError
from wirework.model.host import Host
from wirework.naming import OVS_OWNER_KEY, tag
from wirework.plan.commands import run_in
from wirework.plan.steps import Step, register


def _vsctl(db: str | None) -> str:
    return f"ovs-vsctl --db=unix:{db}" if db else "ovs-vsctl"


@register
@dataclass(frozen=True)
class OvsAddBridge(Step):
    kind = "ovs_add_bridge"
    name: str
    datapath: str
    owner: str

    def apply(self, host: Host) -> Sequence[Step]:
        if host.ovs.bridge_exists(self.name):
            return ()  # made meanwhile by a concurrent run: it is that run's, not ours to undo
        host.ovs.add_bridge(self.name, datapath=self.datapath, owner=self.owner)
        return [OvsDelBridge(self.name, self.owner)]

    def crash_undo(self) -> Sequence[Step]:
        return [OvsDelBridge(self.name, self.owner)]

    def changes_existing(self) -> bool:
        return False

    def describe(self) -> str:
        return f"create Open vSwitch bridge {self.name} (datapath {self.datapath})"

    def commands(self) -> list[str]:
        return [
            f"ovs-vsctl add-br {self.name} -- set bridge {self.name} datapath_type={self.datapath} "
            f"external_ids:{OVS_OWNER_KEY}={self.owner}"
        ]


@register
@dataclass(frozen=True)
class OvsDelBridge(Step):
    kind = "ovs_del_bridge"
    name: str
    owner: str | None = None

    def apply(self, host: Host) -> Sequence[Step]:
        host.ovs.del_bridge(self.name, owner=self.owner)
        return ()

    def changes_existing(self) -> bool:
        return False  # a deletion has no undo, in a crash or not

    def describe(self) -> str:
        return f"delete Open vSwitch bridge {self.name}"

    def commands(self) -> list[str]:
        return [f"ovs-vsctl --if-exists del-br {self.name}"]


@register
@dataclass(frozen=True)
class OvsAddPort(Step):
    kind = "ovs_add_port"
    bridge: str
    port: str
    owner: str
    tag: int | None = None

    def apply(self, host: Host) -> Sequence[Step]:
        host.ovs.add_port(self.bridge, self.port, tag=self.tag, owner=self.owner)
        return [OvsDelPort(self.bridge, self.port, self.owner)]

    def crash_undo(self) -> Sequence[Step]:
        return [OvsDelPort(self.bridge, self.port, self.owner)]

    def changes_existing(self) -> bool:
        return False

    def describe(self) -> str:
        vlan = f" with VLAN tag {self.tag}" if self.tag is not None else ""
        return f"add port {self.port} to Open vSwitch bridge {self.bridge}{vlan}"

    def commands(self) -> list[str]:
        t = f" tag={self.tag}" if self.tag is not None else ""
        ids = f"external_ids:{OVS_OWNER_KEY}={self.owner}"
        return [f"ovs-vsctl add-port {self.bridge} {self.port}{t} -- set port {self.port} {ids}"]


@register
@dataclass(frozen=True)
class OvsDelPort(Step):
    kind = "ovs_del_port"
    bridge: str
    port: str
    owner: str | None = None

    def apply(self, host: Host) -> Sequence[Step]:
        host.ovs.del_port(self.bridge, self.port, owner=self.owner)
        return ()

    def changes_existing(self) -> bool:
        return False  # a deletion has no undo, in a crash or not

    def describe(self) -> str:
        return f"remove port {self.port} from Open vSwitch bridge {self.bridge}"

    def commands(self) -> list[str]:
        return [f"ovs-vsctl --if-exists del-port {self.bridge} {self.port}"]


@register
@dataclass(frozen=True)
class EnsureForwardAccept(Step):
    """Accept bridged traffic on `bridge` in iptables FORWARD (Docker's policy is DROP)."""

    kind = "ensure_forward_accept"
    bridge: str
    owner: str

    def apply(self, host: Host) -> Sequence[Step]:
        if host.fw.ensure_bridge_forward(self.bridge, self.owner):
            return [RemoveForwardAccept(self.bridge, self.owner)]
        return ()

    def crash_undo(self) -> Sequence[Step]:
        # Other guests on the bridge may rely on the rule: recovery instead sweeps the rules of
        # bridges that no longer exist (attachments.ops.sweep_forward_rules).
        return ()

    def prepare(self, host: Host) -> Sequence[Step]:
        # Journaled: only a rule this very step adds is removed after a crash.
        return () if host.fw.has_bridge_forward(self.bridge, self.owner) else [RemoveForwardAccept(self.bridge, self.owner)]

    def describe(self) -> str:
        return (
            f"accept traffic between ports of {self.bridge} in iptables DOCKER-USER/FORWARD "
            f"(the FORWARD policy is DROP, as Docker sets it, and bridged frames pass through it)"
        )

    def commands(self) -> list[str]:
        return [
            f"iptables -I DOCKER-USER 1 -i {self.bridge} -o {self.bridge} "
            f"-m comment --comment {tag(self.owner)} -j ACCEPT"
        ]


@register
@dataclass(frozen=True)
class RemoveForwardAccept(Step):
    kind = "remove_forward_accept"
    bridge: str
    owner: str

    def apply(self, host: Host) -> Sequence[Step]:
        host.fw.remove_bridge_forward(self.bridge, self.owner)
        return ()

    def changes_existing(self) -> bool:
        return False  # a deletion has no undo, in a crash or not

    def describe(self) -> str:
        return f"remove the FORWARD accept rule for {self.bridge}"

    def commands(self) -> list[str]:
        return [f"iptables -D DOCKER-USER -i {self.bridge} -o {self.bridge} -m comment --comment {tag(self.owner)} -j ACCEPT"]


@register
@dataclass(frozen=True)
class SetSysctl(Step):
    kind = "set_sysctl"
    key: str
    value: str
    ns: str | None = None

    def apply(self, host: Host) -> Sequence[Step]:
        old = host.sysctl.get(self.key, self.ns)
        if old == self.value:
            return ()
        host.sysctl.set(self.key, self.value, self.ns)
        return [SetSysctl(self.key, old, self.ns)] if old is not None else ()

    def prepare(self, host: Host) -> Sequence[Step]:
        old = host.sysctl.get(self.key, self.ns)
        return [SetSysctl(self.key, old, self.ns)] if old is not None and old != self.value else ()

    def describe(self) -> str:
        return f"set {self.key} = {self.value}" + (f" in {self.ns}" if self.ns else "")

    def commands(self) -> list[str]:
        return [f"{run_in(self.ns)}sysctl -w {self.key}={self.value}"]


@register
@dataclass(frozen=True)
class RunProgram(Step):
    """A program run inside a namespace (tc), with the program that undoes it, if any."""

    kind = "run_program"
    ns: str | None
    argv: tuple[str, ...]
    undo_argv: tuple[str, ...] = ()
    may_fail: bool = False  # an undo run after a crash: the program it undoes may never have run

    def apply(self, host: Host) -> Sequence[Step]:
        try:
            host.proc.run_in(self.ns, list(self.argv))
        except WireworkError:
            if not self.may_fail:
                raise
            return ()
        return [RunProgram(self.ns, self.undo_argv)] if self.undo_argv else ()

    def prepare(self, host: Host) -> Sequence[Step]:
        # A program's effect cannot be read back: after a crash its undo program runs (a kill
        # of wirework rarely stops the program itself, which then completes), and failing is
        # fine when the program never ran.
        return [RunProgram(self.ns, self.undo_argv, may_fail=True)] if self.undo_argv else ()

    def describe(self) -> str:
        return f"run {' '.join(self.argv)}" + (f" in {self.ns}" if self.ns else "")

    def commands(self) -> list[str]:
        return [run_in(self.ns) + " ".join(shlex.quote(a) for a in self.argv)]

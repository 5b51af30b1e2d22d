"""Steps on links: veth pairs, bridges, deletion, enslaving, up/down and MTU; each one netlink
change with its exact undo (macvlan, VLAN and moved NICs: `guestlinks`; bridge ports: `bridgeports`).

Removal steps tolerate absence (teardown is repeatable); create steps for tagged objects
offer a crash undo so an interrupted run never leaks them; steps that change a link that
existed before read its state in `prepare`, so the executor journals how to put it back.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from wirework.model.host import Host
from wirework.naming import tag
from wirework.plan.commands import ip_in, netns_arg
from wirework.plan.steps import Step, register


def quoted_tag(owner: str) -> str:
    """The owner's tag as `ip link set ... alias` takes it in a printed command."""
    return shlex.quote(tag(owner))


def where(ns: str | None) -> str:
    return "" if ns is None else f" in {ns}"


def tag_or_remove(host: Host, name: str, ns: str | None, owner: str) -> None:
    """Tag a link just created; if that fails, remove it: an untagged link would be orphaned."""
    try:
        host.net.set_alias(name, tag(owner), ns)
    except Exception:
        host.net.delete_link(name, ns)
        raise


class CreatesTaggedLink(Step):
    """A step that creates one link carrying its owner's tag: removing it, only while it carries
    that tag (`removal`), undoes the step whether or not it ran, so a crash needs no journal."""

    def removal(self) -> Step:
        raise NotImplementedError

    def crash_undo(self) -> Sequence[Step]:
        return [self.removal()]

    def changes_existing(self) -> bool:
        return False


@register
@dataclass(frozen=True)
class CreateVeth(CreatesTaggedLink):
    kind = "create_veth"
    host_name: str
    peer_name: str
    peer_ns: str | None
    owner: str
    mtu: int | None = None
    peer_mac: str | None = None
    master: str | None = None  # born enslaved to this bridge
    up: bool = False  # both ends born up

    def apply(self, host: Host) -> Sequence[Step]:
        host.net.create_veth(self.host_name, self.peer_name, self.peer_ns, mtu=self.mtu, peer_mac=self.peer_mac,
                             master=self.master, up=self.up)
        undo = [self.removal()]
        try:
            host.net.set_alias(self.host_name, tag(self.owner))
            host.net.set_alias(self.peer_name, tag(self.owner), self.peer_ns, up=self.up)
        except Exception:
            host.net.delete_link(self.host_name)
            raise
        return undo

    def removal(self) -> Step:
        return DeleteLink(self.host_name, None, self.owner)

    def describe(self) -> str:
        extras = [f"in bridge {self.master}"] if self.master else []
        extras += ["up"] if self.up else []
        suffix = f" ({', '.join(extras)})" if extras else ""
        return f"create veth {self.host_name}{suffix} <-> {self.peer_name}{where(self.peer_ns)}"

    def commands(self) -> list[str]:
        netns = f" netns {netns_arg(self.peer_ns)}" if self.peer_ns else ""
        mac = f" address {self.peer_mac}" if self.peer_mac else ""
        mtu = f" mtu {self.mtu}" if self.mtu else ""
        master = f" master {self.master}" if self.master else ""
        up = " up" if self.up else ""
        return [
            f"ip link add {self.host_name}{mtu}{master}{up} type veth peer name {self.peer_name}{mac}{mtu}{netns}",
            f"ip link set {self.host_name} alias {quoted_tag(self.owner)}",
            f"{ip_in(self.peer_ns)} link set {self.peer_name} alias {quoted_tag(self.owner)}{up}",
        ]


@register
@dataclass(frozen=True)
class CreateBridge(CreatesTaggedLink):
    kind = "create_bridge"
    name: str
    owner: str
    mtu: int | None = None
    vlan_filtering: bool = False

    def apply(self, host: Host) -> Sequence[Step]:
        host.net.create_bridge(self.name, mtu=self.mtu, vlan_filtering=self.vlan_filtering)
        tag_or_remove(host, self.name, None, self.owner)
        return [self.removal()]

    def removal(self) -> Step:
        return DeleteLink(self.name, None, self.owner)

    def describe(self) -> str:
        return f"create Linux bridge {self.name}" + (" with VLAN filtering" if self.vlan_filtering else "")

    def commands(self) -> list[str]:
        mtu = f" mtu {self.mtu}" if self.mtu else ""
        vf = " vlan_filtering 1" if self.vlan_filtering else ""
        return [f"ip link add {self.name}{mtu} type bridge{vf}", f"ip link set {self.name} alias {quoted_tag(self.owner)}"]


@register
@dataclass(frozen=True)
class DeleteLink(Step):
    kind = "delete_link"
    name: str
    ns: str | None = None
    owner: str | None = None

    def apply(self, host: Host) -> Sequence[Step]:
        host.net.delete_link(self.name, self.ns, owner=self.owner)
        return ()

    def changes_existing(self) -> bool:
        return False  # a deletion has no undo, in a crash or not

    def describe(self) -> str:
        return f"delete {self.name}{where(self.ns)}" + (f" (if tagged {tag(self.owner)})" if self.owner else "")

    def commands(self) -> list[str]:
        return [f"{ip_in(self.ns)} link del {self.name}"]


@register
@dataclass(frozen=True)
class SetMaster(Step):
    """Enslave to a bridge; master None releases (and tolerates a missing link)."""

    kind = "set_master"
    name: str
    master: str | None
    fresh: bool = False  # the link was created by this plan: its deletion is the undo

    def apply(self, host: Host) -> Sequence[Step]:
        if self.master is None:
            if host.net.link(self.name) is not None:
                host.net.set_master(self.name, None)
            return ()
        if not self.fresh:
            link, bridge = host.net.link(self.name), host.net.link(self.master)
            if link is not None and bridge is not None and link.master == bridge.index:
                return ()  # already there: nothing changed, nothing to undo
        host.net.set_master(self.name, self.master)
        return () if self.fresh else [SetMaster(self.name, None)]

    def changes_existing(self) -> bool:
        return not self.fresh

    def prepare(self, host: Host) -> Sequence[Step]:
        info = host.net.link(self.name)
        if info is None:
            return ()
        old = host.net.link_by_index(info.master) if info.master else None
        if (old.name if old is not None else None) == self.master:
            return ()
        return [SetMaster(self.name, old.name if old is not None else None)]

    def describe(self) -> str:
        return f"attach {self.name} to bridge {self.master}" if self.master else f"release {self.name} from its bridge"

    def commands(self) -> list[str]:
        return [f"ip link set {self.name} master {self.master}" if self.master else f"ip link set {self.name} nomaster"]


@register
@dataclass(frozen=True)
class LinkUp(Step):
    kind = "link_up"
    name: str
    ns: str | None = None
    fresh: bool = False  # created by this plan, so known to be down: no check, no undo

    def apply(self, host: Host) -> Sequence[Step]:
        if self.fresh:
            host.net.set_up(self.name, self.ns)
            return ()
        info = host.net.link(self.name, self.ns)
        if info is not None and info.up:
            return ()
        host.net.set_up(self.name, self.ns)
        return [LinkDown(self.name, self.ns)]

    def changes_existing(self) -> bool:
        return not self.fresh

    def prepare(self, host: Host) -> Sequence[Step]:
        info = host.net.link(self.name, self.ns)
        return [LinkDown(self.name, self.ns)] if info is not None and not info.up else ()

    def describe(self) -> str:
        return f"bring {self.name} up{where(self.ns)}"

    def commands(self) -> list[str]:
        return [f"{ip_in(self.ns)} link set {self.name} up"]


@register
@dataclass(frozen=True)
class LinkDown(Step):
    kind = "link_down"
    name: str
    ns: str | None = None

    def apply(self, host: Host) -> Sequence[Step]:
        info = host.net.link(self.name, self.ns)
        if info is None or not info.up:
            return ()
        host.net.set_up(self.name, self.ns, up=False)
        return [LinkUp(self.name, self.ns)]

    def prepare(self, host: Host) -> Sequence[Step]:
        info = host.net.link(self.name, self.ns)
        return [LinkUp(self.name, self.ns)] if info is not None and info.up else ()

    def describe(self) -> str:
        return f"bring {self.name} down{where(self.ns)}"

    def commands(self) -> list[str]:
        return [f"{ip_in(self.ns)} link set {self.name} down"]


@register
@dataclass(frozen=True)
class SetMtu(Step):
    kind = "set_mtu"
    name: str
    mtu: int
    ns: str | None = None

    def apply(self, host: Host) -> Sequence[Step]:
        info = host.net.link(self.name, self.ns)
        if info is not None and info.mtu == self.mtu:
            return ()
        host.net.set_mtu(self.name, self.mtu, self.ns)
        return [SetMtu(self.name, info.mtu, self.ns)] if info is not None else ()

    def prepare(self, host: Host) -> Sequence[Step]:
        info = host.net.link(self.name, self.ns)
        return [SetMtu(self.name, info.mtu, self.ns)] if info is not None and info.mtu != self.mtu else ()

    def describe(self) -> str:
        return f"set MTU of {self.name} to {self.mtu}{where(self.ns)}"

    def commands(self) -> list[str]:
        return [f"{ip_in(self.ns)} link set {self.name} mtu {self.mtu}"]

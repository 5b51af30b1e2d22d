"""Steps on links, addresses, routes and rules: each one netlink change with its exact undo.

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
from wirework.plan.commands import ip_in, netns_arg, run_in
from wirework.plan.steps import Step, register

#: How to say "inside this namespace" to the ip command, for --format commands.
ns_ip = ip_in
#: What `ip link set ... netns X` takes: a name or a PID, not a path.
ip_netns_arg = netns_arg


def _alias(owner: str) -> str:
    return shlex.quote(tag(owner))


def where(ns: str | None) -> str:
    return "" if ns is None else f" in {ns}"


def _tag_or_remove(host: Host, name: str, ns: str | None, owner: str) -> None:
    """Tag a link just created; if that fails, remove it: an untagged link would be orphaned."""
    try:
        host.net.set_alias(name, tag(owner), ns)
    except Exception:
        host.net.delete_link(name, ns)
        raise


@register
@dataclass(frozen=True)
class CreateVeth(Step):
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
        undo = [DeleteLink(self.host_name, None, self.owner)]
        try:
            host.net.set_alias(self.host_name, tag(self.owner))
            host.net.set_alias(self.peer_name, tag(self.owner), self.peer_ns, up=self.up)
        except Exception:
            host.net.delete_link(self.host_name)
            raise
        return undo

    def crash_undo(self) -> Sequence[Step]:
        return [DeleteLink(self.host_name, None, self.owner)]

    def changes_existing(self) -> bool:
        return False

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
            f"ip link set {self.host_name} alias {_alias(self.owner)}",
            f"{ip_in(self.peer_ns)} link set {self.peer_name} alias {_alias(self.owner)}{up}",
        ]


@register
@dataclass(frozen=True)
class CreateBridge(Step):
    kind = "create_bridge"
    name: str
    owner: str
    mtu: int | None = None
    vlan_filtering: bool = False

    def apply(self, host: Host) -> Sequence[Step]:
        host.net.create_bridge(self.name, mtu=self.mtu, vlan_filtering=self.vlan_filtering)
        _tag_or_remove(host, self.name, None, self.owner)
        return [DeleteLink(self.name, None, self.owner)]

    def crash_undo(self) -> Sequence[Step]:
        return [DeleteLink(self.name, None, self.owner)]

    def changes_existing(self) -> bool:
        return False

    def describe(self) -> str:
        return f"create Linux bridge {self.name}" + (" with VLAN filtering" if self.vlan_filtering else "")

    def commands(self) -> list[str]:
        mtu = f" mtu {self.mtu}" if self.mtu else ""
        vf = " vlan_filtering 1" if self.vlan_filtering else ""
        return [f"ip link add {self.name}{mtu} type bridge{vf}", f"ip link set {self.name} alias {_alias(self.owner)}"]


@register
@dataclass(frozen=True)
class CreateMacvlan(Step):
    kind = "create_macvlan"
    parent: str
    name: str
    ns: str | None
    owner: str
    mode: str = "bridge"
    mac: str | None = None
    mtu: int | None = None

    def apply(self, host: Host) -> Sequence[Step]:
        host.net.create_macvlan(self.parent, self.name, self.ns, mode=self.mode, mac=self.mac, mtu=self.mtu)
        _tag_or_remove(host, self.name, self.ns, self.owner)
        return [DeleteLink(self.name, self.ns, self.owner)]

    def crash_undo(self) -> Sequence[Step]:
        return [DeleteLink(self.name, self.ns, self.owner)]

    def changes_existing(self) -> bool:
        return False

    def describe(self) -> str:
        return f"create macvlan {self.name} on {self.parent} ({self.mode} mode){where(self.ns)}"

    def commands(self) -> list[str]:
        netns = f" netns {netns_arg(self.ns)}" if self.ns else ""
        mac = f" address {self.mac}" if self.mac else ""
        mtu = f" mtu {self.mtu}" if self.mtu else ""
        return [f"ip link add link {self.parent} name {self.name}{mac}{mtu}{netns} type macvlan mode {self.mode}",
                f"{ip_in(self.ns)} link set {self.name} alias {_alias(self.owner)}"]


@register
@dataclass(frozen=True)
class CreateVlan(Step):
    kind = "create_vlan"
    parent: str
    name: str
    vid: int
    owner: str

    def apply(self, host: Host) -> Sequence[Step]:
        host.net.create_vlan(self.parent, self.name, self.vid)
        _tag_or_remove(host, self.name, None, self.owner)
        host.net.set_up(self.name)
        return [DeleteLink(self.name, None, self.owner)]

    def crash_undo(self) -> Sequence[Step]:
        return [DeleteLink(self.name, None, self.owner)]

    def changes_existing(self) -> bool:
        return False

    def describe(self) -> str:
        return f"create 802.1Q VLAN {self.vid} interface {self.name} on {self.parent}"

    def commands(self) -> list[str]:
        return [f"ip link add link {self.parent} name {self.name} type vlan id {self.vid}",
                f"ip link set {self.name} alias {_alias(self.owner)} up"]


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


@register
@dataclass(frozen=True)
class SetTxOffload(Step):
    kind = "set_tx_offload"
    ifname: str
    ns: str | None
    on: bool
    fresh: bool = False

    def apply(self, host: Host) -> Sequence[Step]:
        host.net.set_tx_offload(self.ifname, self.ns, self.on)
        return () if self.fresh else [SetTxOffload(self.ifname, self.ns, not self.on)]

    def changes_existing(self) -> bool:
        return not self.fresh

    def prepare(self, host: Host) -> Sequence[Step]:
        return [SetTxOffload(self.ifname, self.ns, not self.on)]

    def describe(self) -> str:
        why = " (a userspace OVS bridge forwards partial checksums unfixed)" if not self.on else ""
        return f"turn TX checksum offload {'on' if self.on else 'off'} on {self.ifname}{where(self.ns)}{why}"

    def commands(self) -> list[str]:
        return [f"{run_in(self.ns)}ethtool -K {self.ifname} tx {'on' if self.on else 'off'}"]


@register
@dataclass(frozen=True)
class BridgeVlan(Step):
    """Make `port` an untagged member (PVID) of VLAN `vid` on its VLAN-filtering bridge."""

    kind = "bridge_vlan"
    port: str
    vid: int
    add: bool = True

    def apply(self, host: Host) -> Sequence[Step]:
        if not self.add and host.net.link(self.port) is None:
            return ()
        host.net.bridge_vlan(self.port, self.vid, add=self.add)
        return [BridgeVlan(self.port, self.vid, not self.add)]

    def prepare(self, host: Host) -> Sequence[Step]:
        return [BridgeVlan(self.port, self.vid, not self.add)] if host.net.link(self.port) is not None else ()

    def describe(self) -> str:
        return f"{'add' if self.add else 'remove'} {self.port} {'to' if self.add else 'from'} VLAN {self.vid} (untagged)"

    def commands(self) -> list[str]:
        verb = "add" if self.add else "del"
        return [f"bridge vlan {verb} dev {self.port} vid {self.vid} pvid untagged"]


@register
@dataclass(frozen=True)
class MoveLink(Step):
    """pipework --direct-phys: hand a NIC itself to a guest (and take it back on undo).

    Moving a link between namespaces flushes its addresses and takes it down, so the undo
    is exact for what wirework set inside the guest; the NIC's own alias is kept aside.
    """

    kind = "move_link"
    name: str
    from_ns: str | None
    to_ns: str | None
    new_name: str
    owner: str = ""
    old_alias: str = ""
    if_present: bool = False  # an undo journaled before the move: nothing to do if it never ran

    def apply(self, host: Host) -> Sequence[Step]:
        info = host.net.link(self.name, self.from_ns)
        if info is None and self.if_present:
            return ()
        old_alias = info.alias if info is not None else ""
        host.net.move_link(self.name, self.from_ns, self.to_ns, self.new_name)
        if self.owner:
            host.net.set_alias(self.new_name, tag(self.owner), self.to_ns)
        elif self.old_alias:
            host.net.set_alias(self.new_name, self.old_alias, self.to_ns)
        return [MoveLink(self.new_name, self.to_ns, self.from_ns, self.name, "", old_alias)]

    def crash_undo(self) -> Sequence[Step]:
        return [MoveLink(self.new_name, self.to_ns, self.from_ns, self.name, if_present=True)] if self.owner else ()

    def prepare(self, host: Host) -> Sequence[Step]:
        info = host.net.link(self.name, self.from_ns)
        old_alias = info.alias if info is not None else ""
        return [MoveLink(self.new_name, self.to_ns, self.from_ns, self.name, "", old_alias, if_present=True)]

    def describe(self) -> str:
        src = f" from {self.from_ns}" if self.from_ns else ""
        dst = f" into {self.to_ns}" if self.to_ns else " back to the host"
        return f"move {self.name}{src}{dst} as {self.new_name}"

    def commands(self) -> list[str]:
        alias = _alias(self.owner) if self.owner else shlex.quote(self.old_alias) if self.old_alias else ""
        return [f"{ip_in(self.from_ns)} link set {self.name} netns {netns_arg(self.to_ns)} name {self.new_name}"] + (
            [f"{ip_in(self.to_ns)} link set {self.new_name} alias {alias}"] if alias else [])

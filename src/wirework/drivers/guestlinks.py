"""Links for pipework's other ways of giving a guest an interface: a macvlan on a host NIC (with
the 802.1Q VLAN interface under it when asked), the NIC itself moved in (--direct-phys), and the
guest end's TX checksum offload that a userspace OVS bridge needs off. Each step is one netlink
(or ethtool) change with its exact undo; created links carry their owner's tag.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from wirework.drivers.links import CreatesTaggedLink, DeleteLink, quoted_tag, tag_or_remove, where
from wirework.model.host import Host
from wirework.naming import tag
from wirework.plan.commands import ip_in, netns_arg, run_in
from wirework.plan.steps import Step, register


@register
@dataclass(frozen=True)
class CreateMacvlan(CreatesTaggedLink):
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
        tag_or_remove(host, self.name, self.ns, self.owner)
        return [self.removal()]

    def removal(self) -> Step:
        return DeleteLink(self.name, self.ns, self.owner)

    def describe(self) -> str:
        return f"create macvlan {self.name} on {self.parent} ({self.mode} mode){where(self.ns)}"

    def commands(self) -> list[str]:
        netns = f" netns {netns_arg(self.ns)}" if self.ns else ""
        mac = f" address {self.mac}" if self.mac else ""
        mtu = f" mtu {self.mtu}" if self.mtu else ""
        return [f"ip link add link {self.parent} name {self.name}{mac}{mtu}{netns} type macvlan mode {self.mode}",
                f"{ip_in(self.ns)} link set {self.name} alias {quoted_tag(self.owner)}"]


@register
@dataclass(frozen=True)
class CreateVlan(CreatesTaggedLink):
    kind = "create_vlan"
    parent: str
    name: str
    vid: int
    owner: str

    def apply(self, host: Host) -> Sequence[Step]:
        host.net.create_vlan(self.parent, self.name, self.vid)
        tag_or_remove(host, self.name, None, self.owner)
        host.net.set_up(self.name)
        return [self.removal()]

    def removal(self) -> Step:
        return DeleteLink(self.name, None, self.owner)

    def describe(self) -> str:
        return f"create 802.1Q VLAN {self.vid} interface {self.name} on {self.parent}"

    def commands(self) -> list[str]:
        return [f"ip link add link {self.parent} name {self.name} type vlan id {self.vid}",
                f"ip link set {self.name} alias {quoted_tag(self.owner)} up"]


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
        alias = quoted_tag(self.owner) if self.owner else shlex.quote(self.old_alias) if self.old_alias else ""
        return [f"{ip_in(self.from_ns)} link set {self.name} netns {netns_arg(self.to_ns)} name {self.new_name}"] + (
            [f"{ip_in(self.to_ns)} link set {self.new_name} alias {alias}"] if alias else [])


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

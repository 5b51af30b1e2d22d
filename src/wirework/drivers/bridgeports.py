"""Steps on the ports of a Linux bridge: hairpin mode and VLAN membership (each one netlink change with
its exact undo)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wirework.errors import NotFound
from wirework.model.host import Host
from wirework.plan.steps import Step, register


@register
@dataclass(frozen=True)
class SetHairpin(Step):
    """Hairpin mode on a bridge port: the bridge may send a frame back out of the port it came
    in by. A guest reaching its own published port through a host address needs it when
    br_netfilter is on: the DNAT back to the sender is then bridged, not routed (Docker sets it
    too when it runs without its userland proxy; kubelet's hairpin-veth mode does the same)."""

    kind = "set_hairpin"
    port: str
    on: bool = True
    fresh: bool = False  # on a port the plan creates: deleting the port undoes it

    def apply(self, host: Host) -> Sequence[Step]:
        if not self.fresh:
            before = host.net.hairpin(self.port)
            if before is None:
                if not self.on:
                    return ()  # the port is gone, or no longer on a bridge: nothing to turn off
                raise NotFound(what="bridge port", name=self.port, fix="attach it to a bridge first")
            if before == self.on:
                return ()
        host.net.set_hairpin(self.port, self.on)
        return () if self.fresh else [SetHairpin(self.port, not self.on)]

    def changes_existing(self) -> bool:
        return not self.fresh

    def prepare(self, host: Host) -> Sequence[Step]:
        before = host.net.hairpin(self.port)
        return [SetHairpin(self.port, before)] if before is not None and before != self.on else ()

    def describe(self) -> str:
        why = " (a guest reaching its own published port through a host address)" if self.on else ""
        return f"turn hairpin mode {'on' if self.on else 'off'} for bridge port {self.port}{why}"

    def commands(self) -> list[str]:
        return [f"ip link set {self.port} type bridge_slave hairpin {'on' if self.on else 'off'}"]


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

"""Static forwarding entries on a device (a VXLAN device's peers): FDB entries (frames for a MAC,
or flooding with the all-zero MAC, go to an underlay address) and permanent neighbour entries.
Each step is one netlink change with its exact undo; `fresh` entries go with the device the
plan created, `probed` ones trust the planner's reading instead of dumping the table again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wirework.model.host import FdbEntry, Host
from wirework.plan.commands import ip_in
from wirework.plan.steps import Step, register

ZERO_MAC = "00:00:00:00:00:00"


@register
@dataclass(frozen=True)
class AddFdb(Step):
    """A static FDB entry on a VXLAN device: frames for `mac` (all-zero: flood) go to `dst`."""

    kind = "add_fdb"
    dev: str
    dst: str
    mac: str = ZERO_MAC
    fresh: bool = False  # on a device this plan created: the entry goes with the device
    probed: bool = False  # the planner saw it absent: add it without looking again

    def apply(self, host: Host) -> Sequence[Step]:
        added = host.net.fdb_append(self.dev, self.mac, self.dst, check=not (self.fresh or self.probed))
        return [DelFdb(self.dev, self.dst, self.mac)] if added and not self.fresh else ()

    def changes_existing(self) -> bool:
        return not self.fresh

    def prepare(self, host: Host) -> Sequence[Step]:
        if self.fresh:
            return ()
        if self.probed:  # the planner saw it absent just before: no dump
            return [DelFdb(self.dev, self.dst, self.mac)]
        return () if _has_fdb(host, self.dev, self.mac, self.dst) else [DelFdb(self.dev, self.dst, self.mac)]

    def describe(self) -> str:
        what = "flood (broadcast, unknown unicast)" if self.mac == ZERO_MAC else f"frames for {self.mac}"
        return f"send {what} on {self.dev} to peer {self.dst}"

    def commands(self) -> list[str]:
        return [f"bridge fdb append {self.mac} dev {self.dev} dst {self.dst}"]


@register
@dataclass(frozen=True)
class DelFdb(Step):
    kind = "del_fdb"
    dev: str
    dst: str
    mac: str = ZERO_MAC

    def apply(self, host: Host) -> Sequence[Step]:
        return [AddFdb(self.dev, self.dst, self.mac)] if host.net.fdb_del(self.dev, self.mac, self.dst) else ()

    def prepare(self, host: Host) -> Sequence[Step]:
        return [AddFdb(self.dev, self.dst, self.mac)] if _has_fdb(host, self.dev, self.mac, self.dst) else ()

    def describe(self) -> str:
        return f"remove FDB entry {self.mac} -> {self.dst} from {self.dev}"

    def commands(self) -> list[str]:
        return [f"bridge fdb del {self.mac} dev {self.dev} dst {self.dst}"]


def _has_fdb(host: Host, dev: str, mac: str, dst: str) -> bool:
    if host.net.link(dev) is None:
        return False
    return FdbEntry(mac.lower(), dst) in {FdbEntry(e.mac.lower(), e.dst) for e in host.net.fdb(dev)}


def _neighbour(host: Host, dev: str, ip: str) -> str | None:
    """The MAC a neighbour entry gives `ip` on `dev` now ("" without one; None: no entry)."""
    if host.net.link(dev) is None:
        return None
    return next((n.mac for n in host.net.neighbours(dev) if n.ip == ip), None)


@register
@dataclass(frozen=True)
class AddNeighbour(Step):
    kind = "add_neighbour"
    dev: str
    ip: str
    mac: str
    fresh: bool = False  # on a device this plan created: the entry goes with the device
    probed: bool = False  # the planner read the table: `old_mac` is what it held ("": nothing)
    old_mac: str = ""

    def apply(self, host: Host) -> Sequence[Step]:
        if self.fresh:
            host.net.neigh_add(self.dev, self.ip, self.mac, check=False)
            return ()
        undo = self.prepare(host)  # an entry it replaces comes back with its own MAC
        return undo if host.net.neigh_add(self.dev, self.ip, self.mac, check=not self.probed) else ()

    def changes_existing(self) -> bool:
        return not self.fresh

    def prepare(self, host: Host) -> Sequence[Step]:
        # Probed: the planner read the table just before (`old_mac`, "" for no entry): no dump.
        old = (self.old_mac or None) if self.probed else _neighbour(host, self.dev, self.ip)
        if old is None:
            return [DelNeighbour(self.dev, self.ip)]
        return [AddNeighbour(self.dev, self.ip, old)] if old and old.lower() != self.mac.lower() else ()

    def describe(self) -> str:
        return f"add permanent neighbour {self.ip} at {self.mac} on {self.dev}"

    def commands(self) -> list[str]:
        return [f"{ip_in(None)} neigh replace {self.ip} lladdr {self.mac} dev {self.dev} nud permanent"]


@register
@dataclass(frozen=True)
class DelNeighbour(Step):
    kind = "del_neighbour"
    dev: str
    ip: str

    def apply(self, host: Host) -> Sequence[Step]:
        old = next((n for n in host.net.neighbours(self.dev) if n.ip == self.ip), None)
        if old is None or not host.net.neigh_del(self.dev, self.ip):
            return ()
        return [AddNeighbour(self.dev, self.ip, old.mac)] if old.mac else ()

    def prepare(self, host: Host) -> Sequence[Step]:
        old = _neighbour(host, self.dev, self.ip)
        return [AddNeighbour(self.dev, self.ip, old)] if old else ()

    def describe(self) -> str:
        return f"remove neighbour {self.ip} from {self.dev}"

    def commands(self) -> list[str]:
        return [f"{ip_in(None)} neigh del {self.ip} dev {self.dev}"]

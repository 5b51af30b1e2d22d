"""Steps that create and delete named network namespaces (guests `wirework run` starts)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from wirework.errors import Conflict
from wirework.kernel.netns import create_named, netns_path, remove_named
from wirework.model.host import Host
from wirework.naming import owner_of, tag
from wirework.plan.steps import Step, register


@register
@dataclass(frozen=True)
class CreateNetns(Step):
    """A named network namespace (/run/netns/NAME) for a guest wirework starts (`wirework run`)."""

    kind = "create_netns"
    name: str
    owner: str = ""  # tagged on the namespace's `lo`: only a namespace carrying it is ever deleted

    def apply(self, host: Host) -> Sequence[Step]:
        if os.path.exists(netns_path(self.name)):
            raise Conflict(f"network namespace {self.name!r} already exists; choose another --name")
        create_named(self.name)
        if self.owner:
            try:
                host.net.set_alias("lo", tag(self.owner), netns_path(self.name))
            except Exception:
                remove_named(self.name)
                raise
        return [DeleteNetns(self.name, self.owner)]

    def crash_undo(self) -> Sequence[Step]:
        # Safe whether or not it ran: a namespace of that name without our tag is left alone.
        return [DeleteNetns(self.name, self.owner)] if self.owner else ()

    def changes_existing(self) -> bool:
        return not self.owner

    def prepare(self, host: Host) -> Sequence[Step]:
        # Untagged: only a namespace missing now is one this step makes (it refuses existing ones).
        return () if os.path.exists(netns_path(self.name)) else [DeleteNetns(self.name)]

    def describe(self) -> str:
        return f"create network namespace {self.name}"

    def commands(self) -> list[str]:
        tagging = [f"ip -n {self.name} link set lo alias {tag(self.owner)}"] if self.owner else []
        return [f"ip netns add {self.name}", *tagging]


@register
@dataclass(frozen=True)
class DeleteNetns(Step):
    kind = "delete_netns"
    name: str
    owner: str = ""  # when given, the namespace's `lo` must carry this owner's tag

    def apply(self, host: Host) -> Sequence[Step]:
        if not os.path.exists(netns_path(self.name)):
            return ()
        if self.owner:
            lo = host.net.link("lo", netns_path(self.name))
            if lo is None or owner_of(lo.alias) != self.owner:
                return ()  # not ours: never delete another's namespace
        remove_named(self.name)
        return ()

    def changes_existing(self) -> bool:
        return False  # a deletion has no undo, in a crash or not

    def describe(self) -> str:
        return f"delete network namespace {self.name}"

    def commands(self) -> list[str]:
        return [f"ip netns del {self.name}"]

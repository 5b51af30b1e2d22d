"""Steps that create and delete named network namespaces (guests `wirework run` starts)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from wirework.model.host import Host
from wirework.plan.steps import Step, register


@register
@dataclass(frozen=True)
class CreateNetns(Step):
    """A named network namespace (/run/netns/NAME) for a guest wirework starts (`wirework run`)."""

    kind = "create_netns"
    name: str

    def apply(self, host: Host) -> Sequence[Step]:
        from wirework.errors import Conflict
        from wirework.kernel.netns import create_named, netns_path

        if os.path.exists(netns_path(self.name)):
            raise Conflict(f"network namespace {self.name!r} already exists; choose another --name")
        create_named(self.name)
        return [DeleteNetns(self.name)]

    def crash_undo(self) -> Sequence[Step]:
        return [DeleteNetns(self.name)]

    def describe(self) -> str:
        return f"create network namespace {self.name}"

    def commands(self) -> list[str]:
        return [f"ip netns add {self.name}"]


@register
@dataclass(frozen=True)
class DeleteNetns(Step):
    kind = "delete_netns"
    name: str

    def apply(self, host: Host) -> Sequence[Step]:
        from wirework.kernel.netns import remove_named

        remove_named(self.name)
        return ()

    def describe(self) -> str:
        return f"delete network namespace {self.name}"

    def commands(self) -> list[str]:
        return [f"ip netns del {self.name}"]

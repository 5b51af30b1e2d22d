"""Steps that create and delete named network namespaces (`wirework run` guests, lab nodes).

A namespace wirework makes carries its owner as the alias of its `lo`, set right after the
namespace is created; only a namespace whose `lo` carries that tag is ever deleted. The one
exception is the window between create and tag: when tagging fails, `CreateNetns` removes the
untagged namespace it has just made itself.

The host may bring its own namespace handling (`host.namespaces`, see `NamespaceOps`): the
lab's runtime closes the sockets its sessions hold inside a namespace before deleting it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from wirework.errors import Conflict
from wirework.kernel.netns import create_named, netns_path, remove_named
from wirework.model.host import Host
from wirework.naming import owner_of, tag
from wirework.plan.steps import Step, register, register_alias


class NamespaceOps(Protocol):
    def ns_create(self, name: str) -> bool: ...  # False: it was already there
    def ns_exists(self, name: str) -> bool: ...
    def ns_delete(self, name: str) -> bool: ...


class _Named:
    """/run/netns/NAME, made and removed directly (the default)."""

    def ns_exists(self, name: str) -> bool:
        return os.path.exists(netns_path(name))

    def ns_create(self, name: str) -> bool:
        if self.ns_exists(name):
            return False
        create_named(name)
        return True

    def ns_delete(self, name: str) -> bool:
        if not self.ns_exists(name):
            return False
        remove_named(name)
        return True


def namespace_ops(host: Host) -> NamespaceOps:
    ops: NamespaceOps | None = getattr(host, "namespaces", None)
    return ops if ops is not None else _Named()


@register
@dataclass(frozen=True)
class CreateNetns(Step):
    """A named network namespace (/run/netns/NAME) whose `lo` is tagged with its owner and up.

    One that exists already is accepted when its `lo` carries the same owner (a lab converging
    after a race), and refused otherwise.
    """

    kind = "create_netns"
    name: str
    owner: str = ""

    def apply(self, host: Host) -> Sequence[Step]:
        created = namespace_ops(host).ns_create(self.name)
        if not created:
            lo = host.net.link("lo", netns_path(self.name))
            if not self.owner or lo is None or owner_of(lo.alias) != self.owner:
                raise Conflict(f"network namespace {self.name} exists and was not made by "
                               f"{self.owner or 'wirework'}; remove it or choose another name")
            return ()
        try:
            if self.owner:
                host.net.set_alias("lo", tag(self.owner), netns_path(self.name))
            host.net.set_up("lo", netns_path(self.name))
        except Exception:
            namespace_ops(host).ns_delete(self.name)
            raise
        return [DeleteNetns(self.name, self.owner)]

    def crash_undo(self) -> Sequence[Step]:
        # Safe whether or not it ran: a namespace of that name without our tag is left alone.
        return [DeleteNetns(self.name, self.owner)] if self.owner else ()

    def changes_existing(self) -> bool:
        return not self.owner

    def prepare(self, host: Host) -> Sequence[Step]:
        # Untagged: only a namespace missing now is one this step makes (it refuses existing ones).
        return () if namespace_ops(host).ns_exists(self.name) else [DeleteNetns(self.name)]

    def describe(self) -> str:
        return f"create network namespace {self.name}"

    def commands(self) -> list[str]:
        tagging = f"alias {tag(self.owner)} " if self.owner else ""
        return [f"ip netns add {self.name}", f"ip -n {self.name} link set lo {tagging}up"]


@register
@dataclass(frozen=True)
class DeleteNetns(Step):
    """Delete a namespace wirework made, and everything inside it."""

    kind = "delete_netns"
    name: str
    owner: str = ""  # when given, the namespace's `lo` must carry this owner's tag

    def apply(self, host: Host) -> Sequence[Step]:
        ops = namespace_ops(host)
        if not ops.ns_exists(self.name):
            return ()
        if self.owner:
            lo = host.net.link("lo", netns_path(self.name))
            if lo is None or owner_of(lo.alias) != self.owner:
                return ()  # not ours: never delete another's namespace
        ops.ns_delete(self.name)
        return ()

    def changes_existing(self) -> bool:
        return False  # a deletion has no undo, in a crash or not

    def describe(self) -> str:
        return f"delete network namespace {self.name}"

    def commands(self) -> list[str]:
        return [f"ip netns del {self.name}"]


# Journals written before the lab used these steps name the lab's own kinds.
register_alias("lab_create_netns", CreateNetns)
register_alias("lab_delete_netns", DeleteNetns)

"""The Step type: one small kernel change with its inverse, and the Plan that orders them.

A step is a frozen dataclass of plain values, so a plan can be printed, turned into JSON,
stored in the journal before it runs and rebuilt after a crash. `apply` makes the change and
returns the steps that undo exactly what it did (nothing when it found the change already
made), so rollback never removes what was there before.

Crash recovery sorts steps in two kinds. A step that only creates what carries wirework's
tag (or acts on a link the plan itself created) has a `crash_undo` that is right whether or
not it ran: the executor runs a group of them without writing anything. A step that changes
what existed before (`changes_existing()`) has its undo read from the host by `prepare` and
journaled before it runs, so a process killed right after it can still be put back exactly.
"""

from __future__ import annotations

import dataclasses
import importlib
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from wirework.errors import StateError
from wirework.model.host import Host

_REGISTRY: dict[str, type[Step]] = {}


S = TypeVar("S", bound="type[Step]")


def register(cls: S) -> S:
    """Make a step kind rebuildable from the journal by its `kind` name."""
    _REGISTRY[cls.kind] = cls
    return cls


def register_alias(kind: str, cls: type[Step]) -> None:
    """Rebuild journal entries of an older `kind` name as `cls` (whose fields they carry)."""
    _REGISTRY[kind] = cls


@dataclass(frozen=True)
class Step:
    kind: ClassVar[str] = "step"

    def apply(self, host: Host) -> Sequence[Step]:
        """Make the change; return the steps that undo it (empty: nothing changed)."""
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def commands(self) -> list[str]:
        """The equivalent hand-typed commands, for `--dry-run --format commands`."""
        return []

    def crash_undo(self) -> Sequence[Step]:
        """What to run when a crash hit while this step was in flight (outcome unknown).

        Only for steps that do not `changes_existing()`: creators of objects carrying
        wirework's ownership tag return their tag-checked removal, safe whether or not the
        step got to create them; steps on links the plan created return nothing.
        """
        return ()

    def changes_existing(self) -> bool:
        """Whether the step may change something that existed before the plan ran.

        Then its exact undo (`prepare`) is journaled before it runs. The default is the safe
        answer; creators of tagged objects and steps on fresh links say False.
        """
        return True

    def prepare(self, host: Host) -> Sequence[Step]:
        """Read what `apply` is about to change; return the steps that put it back.

        The result must be right whether or not `apply` then runs (a crash may hit either
        side of it): it restores the state read now, and restoring it is a no-op when
        nothing changed. The default suits steps whose crash undo already is exact.
        """
        return self.crash_undo()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                value = dataclasses.asdict(value)
            elif isinstance(value, tuple):
                value = list(value)
            data[f.name] = value
        return data


#: Modules that define steps. A journal written by one command may be recovered by another
#: that never imported them, so they are loaded on first need (by name: the executor sits
#: below the layers that define steps).
STEP_MODULES = (
    "wirework.drivers.links",
    "wirework.drivers.guestlinks",
    "wirework.drivers.bridgeports",
    "wirework.drivers.routes",
    "wirework.drivers.namespaces",
    "wirework.drivers.switch",
    "wirework.drivers.dhcp",
    "wirework.drivers.tunnel",
    "wirework.drivers.vxlan",
    "wirework.drivers.fdb",
    "wirework.firewall.steps",
    "wirework.firewall.links",
    "wirework.firewall.ports",
    "wirework.networks.up",
    "wirework.lab.steps",
    "wirework.lab.etcd",
    "wirework.lab.cluster.steps",
)


def _load_step_modules() -> None:
    for name in STEP_MODULES:
        importlib.import_module(name)


def step_from_dict(data: dict[str, Any]) -> Step:
    kind = data.get("kind")
    cls = _REGISTRY.get(str(kind))
    if cls is None:
        _load_step_modules()
        cls = _REGISTRY.get(str(kind))
    if cls is None:
        raise StateError(f"journal names an unknown step kind {kind!r}; is this wirework older than the journal?")
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        hint = hints.get(f.name)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = _build_dataclass(hint, value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)


def _build_dataclass(cls: type[Any], value: dict[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in value.items() if k in names})


@dataclass(frozen=True)
class Plan:
    """An ordered change: what `--dry-run` prints and what the executor runs."""

    operation: str
    owner: str
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = field(default=())
    #: Indices of steps that build shared infrastructure on the way (a missing bridge, say):
    #: rolled back when the operation fails, but they outlive it when it succeeds, so their
    #: undo is not part of the operation's result.
    lasting: tuple[int, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "owner": self.owner,
            "steps": [s.to_dict() for s in self.steps],
            "notes": list(self.notes),
            "lasting": list(self.lasting),
        }

    def __add__(self, other: Plan) -> Plan:
        shifted = tuple(i + len(self.steps) for i in other.lasting)
        return Plan(self.operation, self.owner or other.owner, self.steps + other.steps,
                    self.notes + other.notes, self.lasting + shifted)


def plan_from_dict(data: dict[str, Any]) -> Plan:
    return Plan(
        operation=str(data["operation"]),
        owner=str(data["owner"]),
        steps=tuple(step_from_dict(s) for s in data["steps"]),
        notes=tuple(data.get("notes", ())),
        lasting=tuple(data.get("lasting", ())),
    )

"""A lab setup kind (`Kind`) and what kinds share: running steps through a lab host's session.

A kind turns one `setup:` item into changes on one lab host through that host's own session
(a `Wirework` bound to the host's namespace, built by the API layer and known here only by
what it does). `apply` returns JSON-able undo data (None: nothing changed) and `remove`
takes it back.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wirework.errors import Conflict
from wirework.lab.model import Item, Topology
from wirework.plan.executor import run_best_effort
from wirework.plan.steps import Plan, Step, step_from_dict

Undo = list[dict[str, Any]] | dict[str, Any] | None
Session = Any  # a wirework.api.Wirework bound to the lab host


@dataclass(frozen=True)
class Kind:
    name: str
    describe: Callable[[Item], str]
    apply: Callable[[Session, Item, str], Undo]  # (session, item, owner) -> undo data
    remove: Callable[[Session, Item, Undo], None]
    requires: str | None = None
    needs_ovs: bool = False
    #: interface names this item makes on the host (bridges guests may attach to)
    provides: Callable[[Item], list[str]] = field(default=lambda item: [])
    #: addresses (CIDR) this item puts on the host
    addresses: Callable[[Item], list[str]] = field(default=lambda item: [])
    #: problems only the whole topology shows (unknown peers, duplicate names), without lines
    check: Callable[[Topology, Item], list[str]] = field(default=lambda topo, item: [])
    #: the arguments to plan with, names of other hosts resolved against the topology
    resolve: Callable[[Topology, Item], dict[str, Any]] = field(default=lambda topo, item: item.args)
    #: (item, owner) -> shell commands that make the item on a fresh host, written for "here"
    #: (`plan.commands`): the steps' own commands, or the `wirework` command line of an API kind
    commands: Callable[[Item, str], list[str]] | None = None


# -- plan-based kinds: wirework's own steps, run through the host session's executor ----------
def run_steps(ww: Session, operation: str, owner: str, steps: list[Step]) -> Undo:
    undo: list[Step] = ww.run_plan(Plan(operation, owner, tuple(steps)))
    return [s.to_dict() for s in undo] or None


def undo_steps(ww: Session, item: Item, undo: Undo) -> None:
    if isinstance(undo, list):
        errors = run_best_effort(ww.host, [step_from_dict(d) for d in undo])
        if errors:
            raise Conflict(f"removing {item.kind} on {item.host} left: {'; '.join(errors)}")


def step_commands(steps: list[Step]) -> list[str]:
    return [line for step in steps for line in step.commands()]


def cli_line(*words: object, **options: object) -> str:
    """A `wirework` command line: words, then `--option value` for each option set (True: a flag)."""
    argv = ["wirework", *(str(w) for w in words)]
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = "-" + key if len(key) == 1 else "--" + key.replace("_", "-")
        argv += [flag] if value is True else [flag, str(value)]
    return " ".join(shlex.quote(a) for a in argv)


def as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]

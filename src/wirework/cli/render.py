"""Rendering plans and results for the terminal (text, equivalent commands, JSON)."""

from __future__ import annotations

import json
from typing import Any

from wirework.plan.steps import Plan

PLAN_FORMATS = ("text", "commands", "json")


def render_plan(plan: Plan, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(plan.to_dict(), indent=2, sort_keys=True)
    if not plan.steps:
        return f"# {plan.operation}: nothing to do, already in place"
    lines = []
    if fmt == "commands":
        lines.append(f"# {plan.operation} ({plan.owner}): equivalent commands")
        for step in plan.steps:
            lines.extend(step.commands() or [f"# {step.describe()}"])
    else:
        lines.append(f"Plan: {plan.operation} ({plan.owner}), {len(plan.steps)} steps")
        for i, step in enumerate(plan.steps, 1):
            lasting = "  (stays after the operation)" if i - 1 in plan.lasting else ""
            lines.append(f"  {i:2}. {step.describe()}{lasting}")
    lines.extend(f"note: {note}" for note in plan.notes)
    return "\n".join(lines)


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*headers)]
    out.extend(fmt.format(*[str(c) for c in row]) for row in rows)
    return "\n".join(line.rstrip() for line in out)


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str)

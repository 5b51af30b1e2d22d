"""Rendering plans and results for the terminal (text, equivalent commands, JSON)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from wirework.plan.commands import plan_commands
from wirework.plan.steps import Plan

PLAN_FORMATS = ("text", "commands", "json")


def render_plan(plan: Plan, fmt: str = "text", commands: list[str] | None = None) -> str:
    """A plan as text, as JSON, or as the shell commands that make the same change
    (`commands`: already placed in the host's namespace; default: for the root namespace)."""
    if fmt == "json":
        return json.dumps(plan.to_dict(), indent=2, sort_keys=True)
    if not plan.steps:
        return f"# {plan.operation}: nothing to do, already in place"
    lines = []
    if fmt == "commands":
        lines.append(f"# {plan.operation} ({plan.owner}): equivalent commands, to run as root")
        lines.extend(plan_commands(plan) if commands is None else commands)
    else:
        lines.append(f"Plan: {plan.operation} ({plan.owner}), {count(len(plan.steps), 'step')}")
        for i, step in enumerate(plan.steps, 1):
            lasting = "  (stays after the operation)" if i - 1 in plan.lasting else ""
            lines.append(f"  {i:2}. {step.describe()}{lasting}")
    lines.extend(f"note: {note}" for note in plan.notes)
    return "\n".join(lines)


def plan_json(plan: Plan, commands: list[str] | None = None) -> dict[str, Any]:
    data = plan.to_dict()
    data["commands"] = plan_commands(plan) if commands is None else commands
    return data


def show_plan(args: argparse.Namespace, plan: Plan, commands: list[str] | None = None,
              extra: dict[str, Any] | None = None) -> int:
    """What --dry-run prints: the plan in --format, or with --json a JSON object holding it."""
    if args.json:
        print(dumps({"dry_run": True, "plan": plan_json(plan, commands), **(extra or {})}))
    else:
        print(render_plan(plan, getattr(args, "format", "text"), commands))
    return 0


def count(n: int, noun: str, plural: str | None = None) -> str:
    """"1 segment", "2 segments"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*headers)]
    out.extend(fmt.format(*[str(c) for c in row]) for row in rows)
    return "\n".join(line.rstrip() for line in out)


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str)

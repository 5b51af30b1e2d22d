"""Uplink records, the connectivity check, confirmation and the automatic revert.

After the planned change ran, the record `uplink/<host>/<bridge>` holds its exact undo and a
state: "pending" (a deadline runs), "confirmed", or "reverting". The revert is driven from the
record, not from the process that made the change: a detached watchdog (`wirework uplink
--watchdog`) polls it, pings the check address, and reverts unless the state turns
"confirmed" before the deadline. State changes are compare-and-swap on the record's revision,
so a confirm racing a revert has exactly one winner.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wirework.context import HostContext
from wirework.errors import NotFound, StateError, StepFailed, did_you_mean
from wirework.model.host import Host
from wirework.plan.executor import Executor, run_best_effort
from wirework.plan.steps import Plan, Step, step_from_dict
from wirework.store.base import Compare, Delete, Entry, Op, Put, Store
from wirework.uplink.plan import plan_uplink, probe_uplink, validate_uplink

PREFIX = "uplink/"
#: Consecutive failed checks (one a second) after which the watchdog reverts early.
LOST_AFTER = 2


def uplink_key(host_id: str, bridge: str) -> str:
    return f"{PREFIX}{host_id}/{bridge}"


@dataclass(frozen=True)
class UplinkOutcome:
    plan: Plan
    record: dict[str, Any] | None
    check: str | None
    reachable: bool | None  # None: not checked


def apply_uplink(
    host: Host, store: Store, executor: Executor, host_id: str, plan: Plan, info: dict[str, Any], confirm_within: float,
) -> dict[str, Any]:
    """Run the plan; the record (with its undo) is written in the transaction closing the journal."""
    key = uplink_key(host_id, info["bridge"])
    record: dict[str, Any] = {}

    def commit(undo: list[Step]) -> list[Op]:
        deadline = time.time() + confirm_within if confirm_within > 0 else None
        earlier = [dict(s) for s in info.get("undo_before", [])]
        record.update({k: v for k, v in info.items() if k != "undo_before"}, created=time.time(), deadline=deadline,
                      undo=[s.to_dict() for s in undo] + earlier, state="pending" if deadline else "confirmed")
        return [Put(key, record)]

    executor.run(plan, commit)
    return record


def reachable(host: Host, target: str, *, within: float = 5.0) -> bool:
    """Echo requests to `target` from the host's netns until it answers or `within` seconds pass."""
    deadline = time.monotonic() + within
    while True:
        if ping_once(host, target):
            return True
        if time.monotonic() >= deadline:
            return False


def ping_once(host: Host, target: str, wait: int = 1) -> bool:
    """One echo request, sent in-process from the host's namespace: a missing `ping` program
    must not read as a gateway that does not answer (and revert every uplink)."""
    return host.icmp.echo(target, timeout=wait)


def cli(host_id: str, words: str) -> str:
    """A wirework command line for the host `host_id` ("-" is the machine itself)."""
    return f"wirework {words}" + (f" --netns {host_id}" if host_id != "-" else "")


def load(store: Store, host_id: str, bridge: str) -> Entry:
    entry = store.get(uplink_key(host_id, bridge))
    if entry is None:
        known = [str(r.get("bridge")) for r in records(store, host_id)]
        hint = did_you_mean(bridge, known).lstrip("; ")
        raise NotFound(what="uplink of bridge", name=bridge,
                       fix=hint or f"'{cli(host_id, 'uplink --list')}' shows what there is")
    return entry


def records(store: Store, host_id: str) -> list[dict[str, Any]]:
    return [e.value for e in store.scan(f"{PREFIX}{host_id}/")]


def confirm(store: Store, host_id: str, bridge: str) -> dict[str, Any]:
    """Keep the uplink: the watchdog sees "confirmed" and exits without touching anything."""
    entry = load(store, host_id, bridge)
    value = dict(entry.value)
    if value.get("state") == "confirmed":
        return value
    if value.get("state") != "pending":
        raise StateError(f"the uplink of {bridge} is being reverted ({value.get('reason', 'not confirmed')})")
    value["state"] = "confirmed"
    value["deadline"] = None
    if not store.txn([Compare(entry.key, entry.revision)], [Put(entry.key, value)]):
        return confirm(store, host_id, bridge)  # changed meanwhile: decide again on the new state
    return value


def revert(host: Host, store: Store, host_id: str, bridge: str, reason: str, *, only_pending: bool = False) -> bool:
    """Put back what the uplink changed; False when it was confirmed first (and only_pending)."""
    entry = store.get(uplink_key(host_id, bridge))
    if entry is None:
        return False
    value = dict(entry.value)
    if only_pending and value.get("state") == "confirmed":
        return False
    value.update(state="reverting", reason=reason)
    if not store.txn([Compare(entry.key, entry.revision)], [Put(entry.key, value)]):
        return revert(host, store, host_id, bridge, reason, only_pending=only_pending)
    errors = run_best_effort(host, [step_from_dict(s) for s in value.get("undo", [])])
    store.txn([], [Delete(entry.key)])
    if errors:
        raise StepFailed(f"reverting the uplink of {bridge} left: " + "; ".join(errors))
    return True


def watch(
    host: Host, store: Store, host_id: str, bridge: str, *, interval: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """The watchdog's loop: returns what happened ("confirmed", "gone", or why it reverted)."""
    failures = 0
    while True:
        entry = store.get(uplink_key(host_id, bridge))
        if entry is None:
            return "gone"
        state, deadline, target = entry.value.get("state"), entry.value.get("deadline"), entry.value.get("check")
        if state != "pending":
            return str(state)
        if deadline is not None and time.time() >= deadline:
            return _revert_pending(host, store, host_id, bridge, "not confirmed in time")
        failures = 0 if target is None or ping_once(host, target) else failures + 1
        if failures >= LOST_AFTER:
            return _revert_pending(host, store, host_id, bridge, f"{target} stopped answering")
        sleep(interval)


def _revert_pending(host: Host, store: Store, host_id: str, bridge: str, reason: str) -> str:
    done = revert(host, store, host_id, bridge, reason, only_pending=True)
    return f"reverted: {reason}" if done else "confirmed"


def run_uplink(
    host: Host, store: Store, executor: Executor, host_id: str, plan: Plan, info: dict[str, Any], *,
    confirm_within: float, check_within: float = 5.0, on_applied: Callable[[dict[str, Any]], None] | None = None,
) -> UplinkOutcome:
    """Apply, hand the record to `on_applied` (the CLI starts the watchdog there), then check.

    Without an answer from the check address everything is put back and StepFailed raised.
    """
    existing = store.get(uplink_key(host_id, info["bridge"]))
    if existing is not None and existing.value.get("state") != "confirmed":
        raise StateError(f"an uplink of {info['bridge']} is {existing.value.get('state')}; confirm or undo it first")
    if not plan.steps:
        return UplinkOutcome(plan, existing.value if existing else None, info.get("check"), None)
    if existing is not None:
        store.delete(existing.key)  # a confirmed uplink being extended: the new record holds both undos
        info = {**info, "undo_before": existing.value.get("undo", [])}
    record = apply_uplink(host, store, executor, host_id, plan, info, confirm_within)
    if on_applied is not None:
        on_applied(record)
    target = info.get("check")
    if target is None:
        return UplinkOutcome(plan, record, None, None)
    if reachable(host, target, within=check_within):
        return UplinkOutcome(plan, record, target, True)
    revert(host, store, host_id, info["bridge"], f"{target} did not answer")
    raise StepFailed(f"no answer from {target} after moving {info['nic']} onto {info['bridge']}; "
                     f"everything was put back as it was")


def uplink(
    ctx: HostContext, bridge: str, nic: str, *, ovs: bool | None = None, check: str | None = None,
    confirm_within: float = 0.0, dry_run: bool = False, on_applied: Callable[[dict[str, Any]], None] | None = None,
) -> UplinkOutcome:
    """`Wirework.uplink`: validate, probe, plan; then run, check, and revert when unanswered."""
    spec = validate_uplink(bridge, nic, ovs=ovs, check=check)
    ctx.before_change(dry_run)
    facts = probe_uplink(ctx.host, spec)
    plan = plan_uplink(spec, facts)
    target = spec.check or facts.gateway
    if dry_run:
        return UplinkOutcome(plan, None, target, None)
    info = {"bridge": bridge, "nic": nic, "kind": "ovs" if facts.ovs else "bridge", "check": target}
    return run_uplink(ctx.host, ctx.store, ctx.executor(), ctx.host_id, plan, info,
                      confirm_within=confirm_within, on_applied=on_applied)


def undo(ctx: HostContext, bridge: str, nic: str | None = None) -> bool:
    """Put back what the uplink of `bridge` changed (`nic`, when given, must be the one it moved).
    False when there is none (undone already: undoing twice is fine, as detaching twice is)."""
    if ctx.store.get(uplink_key(ctx.host_id, bridge)) is None:
        return False
    ctx.before_change()
    entry = load(ctx.store, ctx.host_id, bridge)
    if nic is not None and entry.value.get("nic") != nic:
        raise NotFound(what=f"uplink of {nic} onto", name=bridge, fix=f"it moved {entry.value.get('nic')}")
    return revert(ctx.host, ctx.store, ctx.host_id, bridge, "undone on request")

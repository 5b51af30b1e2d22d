"""The one executor: run a plan's steps, keep each one's undo, roll back in reverse on failure.

The journal lives in the store under `ops/<id>`: the plan is written before the first step,
and removed in the same transaction that stores the operation's result. In between, the exact
undo of every applied step is kept in memory for rollback; it is not written per step,
because a store commit per step would cost more than the kernel changes themselves. A
process that dies mid-way leaves the journal behind, and `recover()` runs the crash undo of
every planned step in reverse: tag-checked removal of whatever the plan creates, which is
safe whether or not the step got to run (addresses and routes on those links go with them).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from wirework.errors import NamespaceGone, StepFailed, WireworkError
from wirework.kernel.proc import process_alive, process_start
from wirework.model.host import Host
from wirework.plan.steps import Plan, Step, plan_from_dict, step_from_dict
from wirework.store.base import Delete, Op, Store

#: Called before each step with (index, step); raising there simulates a failure at that step.
FaultHook = Callable[[int, Step], None]

Commit = Callable[[list[Step]], list[Op]]

#: Operations this process is running right now. A journal of this very process that is not
#: among them was left by a failure to close it (the long-lived service): recover it too.
_ACTIVE: set[str] = set()

FAULT_ENV = "WIREWORK_FAIL_AT"
#: Whether `crash:N` really ends the process (False in the resident service: it fails instead).
CRASH_INJECTION = True
OPS_PREFIX = "ops/"


def env_fault_hook() -> FaultHook | None:
    """`WIREWORK_FAIL_AT=N` (a step index) or `=KIND` (a step kind) makes that step fail.

    This is how tests inject a failure into a CLI run; `=crash:N` kills the process instead,
    to test crash recovery.
    """
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return None
    crash = spec.startswith("crash:")
    target = spec.removeprefix("crash:")

    def hook(index: int, step: Step) -> None:
        if target in (str(index), step.kind):
            if crash and CRASH_INJECTION:
                os._exit(137)
            raise RuntimeError(f"injected failure at step {index} ({step.kind})")

    return hook


@dataclass
class Journal:
    """The record of one running operation: persisted when it starts, undos kept in memory."""

    store: Store | None
    plan: Plan
    op_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    undo: list[list[Step]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return OPS_PREFIX + self.op_id

    def begin(self) -> None:
        _ACTIVE.add(self.op_id)
        self._save(applied=0)

    def applied(self, undo: Sequence[Step]) -> None:
        self.undo.append(list(undo))

    def finish(self, ops: Sequence[Op] = ()) -> None:
        if self.store is not None:
            self.store.txn([], [Delete(self.key), *ops])
        _ACTIVE.discard(self.op_id)

    def undo_steps(self, skip: set[int] | None = None) -> list[Step]:
        """Every recorded undo, newest first: the exact reverse of what was applied."""
        skip = skip or set()
        groups = [g for i, g in enumerate(self.undo) if i not in skip]
        return [s for group in reversed(groups) for s in group]

    def _save(self, applied: int) -> None:
        if self.store is None:
            return
        self.store.put(self.key, {
            "pid": os.getpid(),
            "pid_start": process_start(os.getpid()),
            "started": time.time(),
            "plan": self.plan.to_dict(),
            "applied": applied,
            "undo": [[s.to_dict() for s in group] for group in self.undo],
        })


@dataclass
class Executor:
    host: Host
    store: Store | None = None
    fault: FaultHook | None = None

    def run(self, plan: Plan, commit: Commit | None = None) -> list[Step]:
        """Apply every step; return the undo steps (newest first). On failure roll back and raise.

        `commit` turns the undo steps into store writes (the attachment record, say) that are
        made in the same transaction that closes the journal, so a crash leaves either the
        journal (and recovery undoes the change) or the record, never neither.
        """
        journal = Journal(self.store, plan)
        journal.begin()
        for index, step in enumerate(plan.steps):
            try:
                if self.fault is not None:
                    self.fault(index, step)
                undo = step.apply(self.host)
            except BaseException as exc:
                rollback_errors = run_best_effort(self.host, journal.undo_steps())
                journal.finish()
                raise _step_error(step, exc, rollback_errors) from exc
            journal.applied(undo)
        undo_steps = journal.undo_steps(skip=set(plan.lasting))
        try:
            ops = commit(undo_steps) if commit is not None else []
            journal.finish(ops)
        except BaseException:
            # The records could not be written: undo everything rather than leave unrecorded state.
            run_best_effort(self.host, journal.undo_steps())
            journal.finish()
            raise
        return undo_steps


def _step_error(step: Step, exc: BaseException, rollback_errors: list[str]) -> BaseException:
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return exc
    if isinstance(exc, WireworkError) and not rollback_errors:
        return exc
    text = f"{step.describe()} failed: {exc}; everything applied before it was rolled back"
    if rollback_errors:
        text += "; but rollback left: " + "; ".join(rollback_errors) + " (run 'wirework doctor')"
    err = StepFailed(text)
    err.fields["cause"] = exc
    return err


def run_best_effort(host: Host, steps: Sequence[Step]) -> list[str]:
    """Teardown: run every step, collect errors instead of stopping (absence is success)."""
    errors: list[str] = []
    for step in steps:
        try:
            step.apply(host)
        except NamespaceGone:
            continue  # what lived in that namespace went away with it
        except Exception as exc:
            errors.append(f"{step.describe()}: {exc}")
    return errors


def recover(host: Host, store: Store) -> list[str]:
    """Undo every operation whose process died mid-way; returns a line per recovered op."""
    done: list[str] = []
    for entry in store.scan(OPS_PREFIX):
        record: dict[str, Any] = entry.value
        own = int(record.get("pid", 0)) == os.getpid() and entry.key[len(OPS_PREFIX):] not in _ACTIVE
        if not own and process_alive(int(record.get("pid", 0)), record.get("pid_start")):
            continue
        plan = plan_from_dict(record["plan"])
        applied = int(record.get("applied", 0))
        steps = [step_from_dict(s) for group in reversed(record.get("undo", [])) for s in group]
        # Steps from `applied` on may or may not have run: their crash undo is safe either way.
        steps = [u for step in reversed(plan.steps[applied:]) for u in step.crash_undo()] + steps
        errors = run_best_effort(host, steps)
        store.delete(entry.key)
        done.append(f"rolled back interrupted {plan.operation} of {plan.owner}" + (f" ({'; '.join(errors)})" if errors else ""))
    return done

"""The one executor: run a plan's steps, keep each one's undo, roll back in reverse on failure.

The journal (`plan.journal`, in the store under `ops/<host>/<op>`) is written before the
first step and removed in the same transaction that stores the operation's result. In
between, the exact undo of every applied step is kept in memory for rollback, and written
only when it must be: before a step that changes what existed before (`changes_existing`),
together with that step's own undo read from the host just before (`prepare`). Steps that
only create tagged objects (or act on links the plan made) run in groups without a write:
their crash undo is right whether or not they ran. A process killed at any point therefore
leaves a journal from which `recover()` puts the host back exactly as it was: the crash
undo of the steps past the last record, the in-flight step's undo, then the recorded undo.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from wirework.errors import Conflict, NamespaceGone, StepFailed, WireworkError
from wirework.kernel.proc import process_start
from wirework.model.host import Host
from wirework.plan.journal import (
    FORMAT,
    OPS_PREFIX,
    Journal,
    Stored,
    activate,
    deactivate,
    host_key,
    legacy_journals,
    new_op_id,
    stored_journals,
)
from wirework.plan.steps import Plan, Step, plan_from_dict, step_from_dict
from wirework.store.base import Compare, Delete, Op, Put, Store

#: Called before each step with (index, step); raising there simulates a failure at that step.
FaultHook = Callable[[int, Step], None]

#: Turns the undo steps into the operation's result: store writes, and compares that must hold
#: for them to be made (a record that must still be absent, say). When a compare fails the
#: whole change is rolled back: someone else changed what this operation was about meanwhile.
Commit = Callable[[list[Step]], Sequence[Op | Compare]]

__all__ = ["OPS_PREFIX", "Executor", "Journal", "recover", "run_best_effort"]

FAULT_ENV = "WIREWORK_FAIL_AT"
#: Whether `crash:N` really ends the process (False in the resident service: it fails instead).
CRASH_INJECTION = True


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
class Executor:
    host: Host
    store: Store | None = None
    fault: FaultHook | None = None
    host_id: str | None = None  # the journal's host; default: the host's namespace name

    def run(self, plan: Plan, commit: Commit | None = None, *, op: str | None = None) -> list[Step]:
        """Apply every step; return the undo steps (newest first). On failure roll back and raise.

        `commit` turns the undo steps into store writes (the attachment record, say) that are
        made in the same transaction that closes the journal, so a crash leaves either the
        journal (and recovery undoes the change) or the record, never neither. `op` is the
        operation's id when the caller made claims under it before (see journal.Holder).
        """
        journal = Journal(self.store, plan, self.host_id or host_key(self.host), op or new_op_id())
        activate(journal.op_id)
        try:
            return self._run(journal, plan, commit)
        finally:
            if op is None:
                deactivate(journal.op_id)

    def _run(self, journal: Journal, plan: Plan, commit: Commit | None) -> list[Step]:
        for index, step in enumerate(plan.steps):
            try:
                self._record(journal, index, step)
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
            ops = list(commit(undo_steps)) if commit is not None else []
            if not journal.finish([o for o in ops if not isinstance(o, Compare)],
                                  [c for c in ops if isinstance(c, Compare)]):
                raise Conflict(f"{plan.operation} of {plan.owner}: what it was about changed meanwhile "
                               f"(a concurrent process); everything was rolled back")
        except BaseException:
            # The records could not be written: undo everything rather than leave unrecorded state.
            run_best_effort(self.host, journal.undo_steps())
            journal.finish()
            raise
        return undo_steps

    def _record(self, journal: Journal, index: int, step: Step) -> None:
        """Write progress when recovery needs it: first of all, and before changing what existed."""
        if journal.store is None:
            return
        if step.changes_existing():
            journal.save(index, step.prepare(self.host))
        elif index == 0:
            journal.save(index, None)


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


def recover(host: Host, store: Store, host_id: str | None = None, *, legacy: bool | None = None) -> list[str]:
    """Undo every operation on this host whose process died mid-way; a line per recovered op.

    `legacy`: also replay journals older versions wrote without a host (default: on the real
    host, where they most likely came from). A journal is claimed by compare-and-swap first,
    so two recovering processes never replay one twice at once; one killed while recovering
    leaves the journal to the next (its steps are safe to run again).
    """
    host_id = host_id or host_key(host)
    journals = stored_journals(store, host_id)
    if legacy if legacy is not None else host_id == "-":
        journals += legacy_journals(store)
    done: list[str] = []
    for journal in journals:
        if journal.alive():
            continue
        line = _replay(host, store, journal)
        if line:
            done.append(line)
    return done


def _replay(host: Host, store: Store, journal: Stored) -> str | None:
    record: dict[str, Any] = journal.head.value
    op = new_op_id()
    mine = {**record, "op": op, "pid": os.getpid(), "pid_start": process_start(os.getpid())}
    if "v" not in record:
        mine["v"] = 1  # keep the older format's meaning once claimed
    activate(op)
    try:
        if not store.txn([Compare(journal.head.key, journal.head.revision)], [Put(journal.head.key, mine)]):
            return None  # another process claimed it first
        plan = plan_from_dict(record["plan"])
        errors = run_best_effort(host, recovery_steps(plan, record, [e.value for e in journal.records]))
        store.txn([], [Delete(k) for k in journal.keys])
    finally:
        deactivate(op)
    return f"rolled back interrupted {plan.operation} of {plan.owner}" + (f" ({'; '.join(errors)})" if errors else "")


def recovery_steps(plan: Plan, head: dict[str, Any], later: Sequence[dict[str, Any]]) -> list[Step]:
    """What puts the host back: crash undo past the last record, the in-flight undo, the rest.

    Every step from `applied` on that changes what existed was preceded by a record, so past
    the last record only steps with a blind-safe crash undo can have run. Older journals
    (format 1) had no such records: every planned step's crash undo ran, as it did then.
    """
    last = later[-1] if later else head
    groups = [*head.get("undo", []), *(g for record in later for g in record.get("undo", []))]
    exact = [step_from_dict(s) for group in reversed(groups) for s in group]
    applied = int(last.get("applied", 0))
    if int(head.get("v", 1)) < FORMAT:
        return [u for step in reversed(plan.steps[applied:]) for u in step.crash_undo()] + exact
    inflight = last.get("inflight")
    start = applied + 1 if inflight is not None else applied
    blind = [u for step in reversed(plan.steps[start:]) if not step.changes_existing() for u in step.crash_undo()]
    return blind + [step_from_dict(s) for s in inflight or ()] + exact

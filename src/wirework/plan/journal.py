"""The journal of a running operation, and who owns what while an operation runs.

Keys, per host namespace (`<host>` is its name, `-` for the real host), so that a journal is
only ever replayed against the host it was made on:

    ops/<host>/<op>           the plan, the process running it, and its first progress record
    ops/<host>/<op>/<seq>     later progress records, appended (never rewritten)

A progress record holds the exact undo of every step applied since the previous record
(`undo`, one group per step), how many steps are applied (`applied`), and the undo of the
step about to run, read from the host just before (`inflight`). A record is written before
the first step and before every step that `changes_existing()`; a group of steps that only
create tagged objects runs without a write, since their crash undo needs no record. All keys
of a journal go in the transaction that commits the operation's result.

Journals of older versions (`ops/<op>`, one record, `applied` 0) are still read and replayed
as they always were (see `executor.recover`).

Ownership: an operation has an id, and a claim it makes in the store (an address, a lease)
names that id with its process's pid and start time (`Holder`). A claim is another's while
that operation may still run: its process lives and, inside this very process (the resident
service runs many operations), the operation is still active.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from wirework.kernel.proc import process_alive, process_start
from wirework.plan.steps import Plan, Step
from wirework.store.base import Compare, Delete, Entry, Op, Store

OPS_PREFIX = "ops/"
FORMAT = 2

#: Operations this process is running right now. A journal (or claim) of this very process
#: that is not among them was left by a failure to close it: it counts as dead.
_ACTIVE: set[str] = set()
_ACTIVE_LOCK = threading.Lock()


def new_op_id() -> str:
    return uuid.uuid4().hex[:12]


def activate(op_id: str) -> None:
    with _ACTIVE_LOCK:
        _ACTIVE.add(op_id)


def deactivate(op_id: str) -> None:
    with _ACTIVE_LOCK:
        _ACTIVE.discard(op_id)


@contextmanager
def operation(op_id: str | None = None) -> Iterator[str]:
    """An operation id, active (alive to other threads and processes) inside the block."""
    op = op_id or new_op_id()
    activate(op)
    try:
        yield op
    finally:
        deactivate(op)


@dataclass(frozen=True)
class Holder:
    """Who made a claim: the operation and its process (pid + start time pin it)."""

    op: str
    pid: int = field(default_factory=os.getpid)
    pid_start: str = field(default_factory=lambda: _own_start())

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "pid": self.pid, "pid_start": self.pid_start}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Holder:
        return cls(str(data.get("op", "")), int(data.get("pid", 0)), str(data.get("pid_start", "")))

    def alive(self) -> bool:
        if self.pid == os.getpid() and self.pid_start == _own_start():
            with _ACTIVE_LOCK:
                return self.op in _ACTIVE
        return process_alive(self.pid, self.pid_start)


_OWN: dict[int, str] = {}


def _own_start() -> str:
    pid = os.getpid()  # looked up per pid: a forked child is another process
    if pid not in _OWN:
        _OWN[pid] = process_start(pid)
    return _OWN[pid]


def host_key(host: Any) -> str:
    """The journal's host: the host namespace's name, `-` for the real host."""
    return getattr(host, "netns", None) or "-"


def host_prefix(host_id: str) -> str:
    return f"{OPS_PREFIX}{host_id}/"


@dataclass
class Journal:
    """The record of one running operation (see the module docstring for the layout)."""

    store: Store | None
    plan: Plan
    host_id: str = "-"
    op_id: str = field(default_factory=new_op_id)
    undo: list[list[Step]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    _saved: int = 0  # undo groups already written

    @property
    def key(self) -> str:
        return host_prefix(self.host_id) + self.op_id

    def begin(self) -> None:
        """Write the journal now (the executor writes it with the first step)."""
        activate(self.op_id)
        self.save(len(self.undo), None)

    def save(self, applied: int, inflight: Sequence[Step] | None) -> None:
        """A progress record: the undo applied since the last one, and the step in flight."""
        if self.store is None:
            return
        data: dict[str, Any] = {
            "applied": applied,
            "undo": [[s.to_dict() for s in group] for group in self.undo[self._saved:]],
            "inflight": None if inflight is None else [s.to_dict() for s in inflight],
        }
        if self.keys:
            key = f"{self.key}/{len(self.keys):06d}"
        else:
            key = self.key
            holder = Holder(self.op_id)
            data.update(v=FORMAT, host=self.host_id, op=self.op_id, pid=holder.pid, pid_start=holder.pid_start,
                        started=time.time(), plan=self.plan.to_dict())
        self.store.put(key, data)
        self.keys.append(key)
        self._saved = len(self.undo)

    def applied(self, undo: Sequence[Step]) -> None:
        self.undo.append(list(undo))

    def finish(self, ops: Sequence[Op] = (), compares: Sequence[Compare] = ()) -> bool:
        """Remove the journal, in one transaction with the operation's result (`ops`), made
        only when every compare holds; False (the journal kept) when one does not."""
        writes: list[Op] = [*(Delete(k) for k in self.keys), *ops]
        if self.store is not None and writes and not self.store.txn(list(compares), writes):
            return False
        self.keys.clear()
        return True

    def undo_steps(self, skip: set[int] | None = None) -> list[Step]:
        """Every recorded undo, newest first: the exact reverse of what was applied."""
        skip = skip or set()
        groups = [g for i, g in enumerate(self.undo) if i not in skip]
        return [s for group in reversed(groups) for s in group]


@dataclass(frozen=True)
class Stored:
    """A journal as read back from the store: its first record and its later ones."""

    head: Entry
    records: tuple[Entry, ...]

    @property
    def keys(self) -> list[str]:
        return [self.head.key, *(e.key for e in self.records)]

    @property
    def holder(self) -> Holder:
        return Holder(str(self.head.value.get("op", "")), int(self.head.value.get("pid", 0)),
                      str(self.head.value.get("pid_start", "")))

    def alive(self) -> bool:
        if "op" not in self.head.value:  # an older journal: the process alone says
            return process_alive(self.holder.pid, self.holder.pid_start)
        return self.holder.alive()


def stored_journals(store: Store, host_id: str) -> list[Stored]:
    """The journals of one host, each with its records in the order they were written."""
    prefix = host_prefix(host_id)
    heads: dict[str, Entry] = {}
    rest: dict[str, list[Entry]] = {}
    for entry in store.scan(prefix):
        op, _, seq = entry.key[len(prefix):].partition("/")
        if seq:
            rest.setdefault(op, []).append(entry)
        else:
            heads[op] = entry
    return [Stored(head, tuple(rest.get(op, ()))) for op, head in heads.items()]


def legacy_journals(store: Store) -> list[Stored]:
    """Journals written before per-host keys: `ops/<op>`, one record."""
    return [Stored(e, ()) for e in store.scan(OPS_PREFIX) if "/" not in e.key[len(OPS_PREFIX):]]


def dead_journal_waits(store: Store, host_id: str) -> bool:
    """Whether a journal of a dead operation waits on this host: one indexed read."""
    return any(not j.alive() for j in stored_journals(store, host_id))

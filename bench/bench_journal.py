"""What crash safety costs: the executor's journal writes, per plan, against a real SQLite store.

    .venv/bin/python bench/bench_journal.py [--runs 300]

Plans run on the in-memory fake host (no kernel: what is left is wirework's own work), with
the state store a real SQLite file in WAL mode (synchronous=NORMAL, as in production) on a
temporary directory; "no journal" runs the same plan through an executor without a store.
Each figure is the median and the minimum over `--runs` runs (the minimum is what the code
costs; the median adds whatever else the machine did). Also: one progress record alone, and
the check for journals of dead processes that every change makes first.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from wirework.attachments.attach import plan_attach, probe_attach
from wirework.model.addr import parse_cidr
from wirework.model.guest import Guest
from wirework.model.host import RouteSpec
from wirework.model.specs import validate_attach
from wirework.plan.executor import Executor
from wirework.plan.journal import Journal, dead_journal_waits
from wirework.plan.steps import Plan
from wirework.store.sqlite import SqliteStore
from wirework.testing import FakeHost
from wirework.uplink.plan import plan_uplink, probe_uplink, validate_uplink

NS = "/run/netns/g1"
GUEST = Guest("netns", "g1", "g1", "netns:g1", NS, "1:2", mode="netns")


class Counting(SqliteStore):
    writes = 0

    def put(self, key: str, value: object) -> int:
        Counting.writes += 1
        return super().put(key, value)

    def txn(self, compares, ops):  # type: ignore[no-untyped-def]
        Counting.writes += 1
        return super().txn(compares, ops)


def host() -> FakeHost:
    h = FakeHost()
    h.add_guest(NS)
    h.net._add(None, "br0", "bridge")
    h.net._add(None, "eth0", "veth")
    h.net.add_address("eth0", parse_cidr("192.168.1.10/24"))
    for route in (RouteSpec("default", gateway="192.168.1.1", dev="eth0"),
                  RouteSpec("10.50.0.0/16", gateway="192.168.1.1", dev="eth0", table=100)):
        h.net.add_route(route)
    return h


def attach_plan(h: FakeHost) -> Plan:
    spec = validate_attach("g1", "br0", ip="10.0.0.2/24")
    return plan_attach(spec, probe_attach(h, spec, GUEST, []))


def uplink_plan(h: FakeHost) -> Plan:
    spec = validate_uplink("br1", "eth0")
    return plan_uplink(spec, probe_uplink(h, spec))


def timed(runs: int, once: Callable[[], None]) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        once()
        out.append(time.perf_counter() - t)
    return out


def run_plan(make: Callable[[FakeHost], Plan], store: SqliteStore | None, runs: int) -> tuple[list[float], float]:
    times = []
    Counting.writes = 0
    for _ in range(runs):
        h = host()
        plan = make(h)
        t = time.perf_counter()
        Executor(h, store).run(plan, lambda undo: [])
        times.append(time.perf_counter() - t)
    return times, Counting.writes / runs


def us(values: list[float]) -> str:
    return f"{statistics.median(values) * 1e6:.0f} / {min(values) * 1e6:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="wwjournal")
    try:
        store = Counting(os.path.join(tmp, "state.db"))
        print("| what | steps | store writes | µs, median / min |")
        print("|---|---|---|---|")
        for name, make in (("attach (veth + address)", attach_plan), ("uplink (bridge, 1 address, 2 routes)", uplink_plan)):
            steps = len(make(host()).steps)
            bare, _ = run_plan(make, None, args.runs)
            journaled, writes = run_plan(make, store, args.runs)
            print(f"| {name}, no journal | {steps} | 0 | {us(bare)} |")
            print(f"| {name}, journaled | {steps} | {writes:.0f} | {us(journaled)} |")
        journal = Journal(store, uplink_plan(host()), "-")
        journal.save(0, None)
        print(f"| one more progress record (uplink journal) | - | 1 | {us(timed(args.runs, lambda: journal.save(1, [])))} |")
        journal.finish()
        print(f"| check for dead journals, none there | - | 0 | "
              f"{us(timed(args.runs, lambda: dead_journal_waits(store, '-')))} |")
        live = [Journal(store, attach_plan(host()), "-") for _ in range(3)]
        for j in live:
            j.begin()
        print(f"| check for dead journals, 3 live ones | - | 0 | "
              f"{us(timed(args.runs, lambda: dead_journal_waits(store, '-')))} |")
        store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

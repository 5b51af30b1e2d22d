"""What crash safety costs: the executor's journal writes, per plan, against a real SQLite store.

    .venv/bin/python bench/bench_journal.py [--runs 300] [--attach 100]
    .venv/bin/python bench/bench_journal.py --attach 100 --src OTHER/src    (only the attach part)

Plans run on the in-memory fake host (no kernel: what is left is wirework's own work), with
the state store a real SQLite file in WAL mode (synchronous=NORMAL, as in production) on a
temporary directory; "no journal" runs the same plan through an executor without a store.
Each figure is the median and the minimum over `--runs` runs (the minimum is what the code
costs; the median adds whatever else the machine did). Also: one progress record alone, and
the check for journals of dead processes that every change makes first.

`--attach N` (root) also times N attaches through the API on the real kernel (netns guests on
a bridge, in a throwaway "host" namespace), wall clock and this process's CPU time (user +
system: the kernel's work for netlink requests is done in the calling process, so it is what
the attach costs whatever else the machine runs). `--src` imports wirework from another
checkout (say `git archive main src | tar -x -C /tmp/base`) to compare, same command.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

_SRC = sys.argv[sys.argv.index("--src") + 1] if "--src" in sys.argv else os.path.join(os.path.dirname(__file__), "..", "src")
sys.path.insert(0, _SRC)

NS = "/run/netns/g1"


def timed(runs: int, once: Callable[[], object]) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        once()
        out.append(time.perf_counter() - t)
    return out


def us(values: list[float]) -> str:
    return f"{statistics.median(values) * 1e6:.0f} / {min(values) * 1e6:.0f}"


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.2f}"


# -- the journal on the fake host (this checkout only) ----------------------------------------
def fake_host() -> Any:
    from wirework.model.addr import parse_cidr
    from wirework.model.host import RouteSpec
    from wirework.testing import FakeHost

    h = FakeHost()
    h.add_guest(NS)
    h.net._add(None, "br0", "bridge")
    h.net._add(None, "eth0", "veth")
    h.net.add_address("eth0", parse_cidr("192.168.1.10/24"))
    for route in (RouteSpec("default", gateway="192.168.1.1", dev="eth0"),
                  RouteSpec("10.50.0.0/16", gateway="192.168.1.1", dev="eth0", table=100)):
        h.net.add_route(route)
    return h


def attach_plan(h: Any) -> Any:
    from wirework.attachments.attach import plan_attach, probe_attach
    from wirework.model.guest import Guest
    from wirework.model.specs import validate_attach

    spec = validate_attach("g1", "br0", ip="10.0.0.2/24")
    return plan_attach(spec, probe_attach(h, spec, Guest("netns", "g1", "g1", "netns:g1", NS, "1:2", mode="netns"), []))


def uplink_plan(h: Any) -> Any:
    from wirework.uplink.plan import plan_uplink, probe_uplink, validate_uplink

    spec = validate_uplink("br1", "eth0")
    return plan_uplink(spec, probe_uplink(h, spec))


def journal_rows(runs: int) -> None:
    from wirework.plan.executor import Executor
    from wirework.plan.journal import Journal, dead_journal_waits
    from wirework.store.sqlite import SqliteStore

    class Counting(SqliteStore):
        writes = 0

        def put(self, key: str, value: object) -> int:
            Counting.writes += 1
            return super().put(key, value)

        def txn(self, compares, ops):  # type: ignore[no-untyped-def]
            Counting.writes += 1
            return super().txn(compares, ops)

    def run_plan(make: Callable[[Any], Any], store: SqliteStore | None) -> tuple[list[float], float]:
        times = []
        Counting.writes = 0
        for _ in range(runs):
            h = fake_host()
            plan = make(h)
            t = time.perf_counter()
            Executor(h, store).run(plan, lambda undo: [])
            times.append(time.perf_counter() - t)
        return times, Counting.writes / runs

    tmp = tempfile.mkdtemp(prefix="wwjournal")
    try:
        store = Counting(os.path.join(tmp, "state.db"))
        print("| what | steps | store writes | µs, median / min |")
        print("|---|---|---|---|")
        for name, make in (("attach (veth + address)", attach_plan), ("uplink (bridge, 1 address, 2 routes)", uplink_plan)):
            steps = len(make(fake_host()).steps)
            bare, _ = run_plan(make, None)
            journaled, writes = run_plan(make, store)
            print(f"| {name}, no journal | {steps} | 0 | {us(bare)} |")
            print(f"| {name}, journaled | {steps} | {writes:.0f} | {us(journaled)} |")
        journal = Journal(store, uplink_plan(fake_host()), "-")
        journal.save(0, None)
        print(f"| one more progress record (uplink journal) | - | 1 | {us(timed(runs, lambda: journal.save(1, [])))} |")
        journal.finish()
        print(f"| check for dead journals, none there | - | 0 | {us(timed(runs, lambda: dead_journal_waits(store, '-')))} |")
        for j in [Journal(store, attach_plan(fake_host()), "-") for _ in range(3)]:
            j.begin()
        print(f"| check for dead journals, 3 live ones | - | 0 | {us(timed(runs, lambda: dead_journal_waits(store, '-')))} |")
        store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- attach on the real kernel (any checkout: the public API only) ------------------------------
def attach_times(n: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each of n API attaches (the first, which opens sockets, left out)."""
    from wirework.api import Wirework

    run = uuid.uuid4().hex[:5]
    host, guests = f"wwj{run}h", [f"wwj{run}g{i}" for i in range(n + 1)]
    for ns in (host, *guests):
        subprocess.run(["ip", "netns", "add", ns], check=True)
    state = tempfile.mkdtemp(prefix="wwjattach")
    wall: list[float] = []
    cpu: list[float] = []
    try:
        with Wirework(netns=host, state_dir=state) as ww:
            for i, g in enumerate(guests):
                t, c = time.perf_counter(), time.process_time()
                ww.attach(g, "br0", ip=f"10.101.{i // 250}.{i % 250 + 2}/16")
                if i:
                    wall.append(time.perf_counter() - t)
                    cpu.append(time.process_time() - c)
    finally:
        for ns in (*guests, host):
            subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(state, ignore_errors=True)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--attach", type=int, default=0, help="also time this many API attaches (root)")
    parser.add_argument("--src", help="import wirework from this src directory (attach timing only)")
    args = parser.parse_args()
    if args.attach:
        wall, cpu = attach_times(args.attach)
        print(f"API attach x{args.attach} ({os.path.normpath(_SRC)}): wall median {ms(wall)} ms "
              f"(min {min(wall) * 1000:.2f}), CPU median {ms(cpu)} ms (min {min(cpu) * 1000:.2f})")
    if not args.src:
        journal_rows(args.runs)


if __name__ == "__main__":
    main()

"""Cost of one store operation: etcd (one member and three, on tmpfs, through the HTTP gateway),
SQLite (WAL, on disk) and the in-memory store, side by side in one run.

    .venv/bin/python bench/bench_store.py [--ops 500]

Each figure is the median (and p90) over `--ops` calls of one operation on keys under a fresh
prefix; a watch figure is the time from a put returning to the watcher holding its event. The etcd
members are started for the run on free loopback ports and stopped at the end. Prints Markdown.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from wirework.store import open_store, store_config
from wirework.store.base import Compare, Put
from wirework.store.etcd_members import start_cluster, stop_orphans
from wirework.store.sqlite import SqliteStore
from wirework.testing import MemoryClusterStore

RUN = uuid.uuid4().hex[:6]


def timed(n: int, call: Callable[[int], Any]) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        call(i)
        out.append(time.perf_counter() - t)
    return out


def row(name: str, what: str, values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[max(int(len(ordered) * 0.9) - 1, 0)]
    return f"| {name} | {what} | {statistics.median(values) * 1000:.2f} | {p90 * 1000:.2f} |"


def measure(name: str, store: Any, n: int, cluster: bool) -> list[str]:
    rows = [row(name, "put", timed(n, lambda i: store.put(f"b/put/{i}", {"i": i, "host": "h1"})))]
    rows.append(row(name, "get", timed(n, lambda i: store.get(f"b/put/{i}"))))
    rows.append(row(name, "create (create-if-absent txn)", timed(n, lambda i: store.create(f"b/new/{i}", i))))
    revs = [store.get(f"b/new/{i}").revision for i in range(n)]
    rows.append(row(name, "txn (2 compares, 2 puts)", timed(n, lambda i: store.txn(
        [Compare(f"b/new/{i}", revs[i]), Compare(f"b/txn/{i}", 0)], [Put(f"b/new/{i}", -i), Put(f"b/txn/{i}", i)]))))
    rows.append(row(name, f"scan of {n} keys", timed(max(n // 20, 5), lambda i: store.scan("b/put/"))))
    if cluster:
        rows.append(row(name, "lease grant + put with it", timed(n, lambda i: store.put(f"b/l/{i}", i,
                                                                                      lease=store.grant(30)))))
        watch = store.watch("b/w/", store.revision() + 1)

        def put_then_see(i: int) -> None:
            store.put(f"b/w/{i}", i)
            got: list[Any] = []
            while not got:
                got = watch.next(2.0)

        rows.append(row(name, "put seen by a watch", timed(n, put_then_see)))
        watch.cancel()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ops", type=int, default=500)
    n = parser.parse_args().ops
    stop_orphans()
    print("| store | operation | median ms | p90 ms |\n|---|---|---|---|")
    for line in measure("memory", MemoryClusterStore(), n, True):
        print(line, flush=True)
    with tempfile.TemporaryDirectory(prefix="wwbench") as tmp:
        for line in measure("SQLite (WAL, disk)", SqliteStore(os.path.join(tmp, "state.db")), n, False):
            print(line, flush=True)
    for members in (1, 3):
        cluster = start_cluster(f"bench{RUN}{members}", members=members, owner_pid=os.getpid())
        try:
            store = open_store(store_config(cluster.url, prefix=f"/bench/{RUN}/", env={}))
            for line in measure(f"etcd, {members} member(s), tmpfs", store, n, True):
                print(line, flush=True)
            store.close()
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()

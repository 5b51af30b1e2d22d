"""The etcd store under faults, on real etcd members: dead members, restarts, silence, races."""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.conftest import start_etcd
from wirework.errors import StoreUnavailable
from wirework.store import open_store, store_config
from wirework.store.base import Compare, Event, Put
from wirework.store.etcd_members import free_ports, load_cluster, stop_orphans


def _store(url: str, prefix: str = "/faults/", **options: Any) -> Any:
    return open_store(store_config(url, prefix=prefix, env={}, **options))


def _drain(watch: Any, want: int, timeout: float = 15.0) -> list[Event]:
    """Events until `want` arrived; outages in between (StoreUnavailable) are waited out."""
    events: list[Event] = []
    deadline = time.monotonic() + timeout
    while len(events) < want and time.monotonic() < deadline:
        try:
            events += watch.next(0.2)
        except StoreUnavailable:
            time.sleep(0.05)
    return events


def test_unreachable_etcd_is_one_clear_error_and_nothing_is_written() -> None:
    cluster = start_etcd(1)
    try:
        store = _store(cluster.url)
        store.put("before", 1)
        cluster.kill(0)
        for call in (lambda: store.get("before"), lambda: store.scan(""),
                     lambda: store.txn([Compare("a", 0)], [Put("a", 1), Put("b", 2)]), lambda: store.grant(5)):
            with pytest.raises(StoreUnavailable) as err:
                call()
            text = str(err.value)
            assert cluster.endpoints[0] in text and "nothing was changed" in text and "--store" in text
        cluster.start_member(0)
        cluster.wait_healthy()
        assert store.get("a") is None and store.get("b") is None and store.get("before").value == 1
        store.close()
    finally:
        cluster.stop()


def test_silent_endpoint_times_out_and_reads_fail_over(etcd_server: Any) -> None:
    """An endpoint that accepts connections but never answers: reads move on, writes say so."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        url = f"etcd://127.0.0.1:{silent.getsockname()[1]},{etcd_server.endpoints[0]}"
        store = _store(url, timeout="1")
        assert store.get("nothing") is None  # answered by the second endpoint
        alone = _store(f"etcd://127.0.0.1:{silent.getsockname()[1]}", timeout="1")
        with pytest.raises(StoreUnavailable, match="no answer in time"):
            alone.get("x")
        with pytest.raises(StoreUnavailable, match="no answer in time"):
            alone.put("x", 1)  # repeated on every endpoint: a plain put is safe to repeat
        with pytest.raises(StoreUnavailable, match="may or may not"):
            alone.create("x", 1)  # a compare-and-swap whose answer was lost is not repeated
        store.close()
        alone.close()
    finally:
        silent.close()


def test_one_of_three_members_killed_reads_writes_and_watches_go_on(etcd_cluster3: Any) -> None:
    cluster = etcd_cluster3
    # A put that reaches a follower just before it notices the leader died is forwarded to the dead
    # leader and lost; it is repeated after the timeout, which a short one keeps short.
    store = _store(cluster.url, timeout="2")
    start = store.revision() + 1
    watch = store.watch("k/", start)
    for i in range(5):
        store.put(f"k/{i}", i)
    assert len(_drain(watch, 5)) == 5
    cluster.kill(0)  # SIGKILL the member both the client and the watch talk to
    for i in range(5, 10):
        store.put(f"k/{i}", i)  # plain puts: repeated after a lost answer
    assert store.txn([Compare("k/9", store.get("k/9").revision)], [Put("k/9", "cas")])
    assert [e.value for e in store.scan("k/")][-1] == "cas"
    events = _drain(watch, 6)
    assert [e.key for e in events] == [f"k/{i}" for i in range(5, 10)] + ["k/9"]
    watch.cancel()
    store.close()


def test_watch_resumes_after_restart_without_loss_or_duplicates() -> None:
    cluster = start_etcd(1)
    try:
        store = _store(cluster.url)
        watch = store.watch("r/", store.revision() + 1)
        for i in range(10):
            store.put(f"r/{i}", i)
        first = _drain(watch, 10)
        cluster.kill(0)
        with pytest.raises(StoreUnavailable):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                watch.next(0.2)  # the outage shows up as StoreUnavailable, the watch lives on
        cluster.start_member(0)
        cluster.wait_healthy()
        for i in range(10, 20):
            store.put(f"r/{i}", i)
        rest = _drain(watch, 10)
        events = first + rest
        assert [e.value for e in events] == list(range(20))
        assert len({e.revision for e in events}) == 20
        assert watch.next(0.3) == []
        watch.cancel()
        store.close()
    finally:
        cluster.stop()


def _claim(url: str, prefix: str, rounds: int, out: Any) -> None:
    store = _store(url, prefix)
    out.put([n for n in range(rounds) if store.create(f"slot/{n}", os.getpid())])
    store.close()


def test_two_processes_racing_create_have_exactly_one_winner(etcd_server: Any) -> None:
    rounds, prefix = 150, f"/race/{os.getpid()}/{time.monotonic_ns()}/"
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_claim, args=(etcd_server.url, prefix, rounds, out)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert sorted(results[0] + results[1]) == list(range(rounds))  # every key won once, by one process


_ORPHAN = """
import sys
from wirework.store.etcd_members import start_cluster
cluster = start_cluster(sys.argv[1], run_root=sys.argv[2], owner_pid=__import__("os").getpid())
print(cluster.pid(0), flush=True)
"""


def test_members_of_a_crashed_run_are_found_and_stopped() -> None:
    root = f"/dev/shm/wwt-orphans-{os.getpid()}-{time.monotonic_ns()}"
    done = subprocess.run([sys.executable, "-c", _ORPHAN, "orphan", root], capture_output=True, text=True,
                          timeout=60, check=True)
    pid = int(done.stdout.strip())
    cluster = load_cluster(os.path.join(root, "orphan"))
    assert cluster is not None and cluster.pid(0) == pid  # still running: its owner exited without stopping it
    assert stop_orphans(root) == ["orphan"]
    assert cluster.pid(0) is None and not os.path.exists(os.path.join(root, "orphan"))
    os.rmdir(root)


def test_free_ports_are_distinct() -> None:
    ports = free_ports("127.0.0.1", 6)
    assert len(set(ports)) == 6


def test_a_silent_watch_is_reopened_without_losing_or_repeating(etcd_store: Any) -> None:
    """Every `idle` seconds of silence the stream is checked and reopened from the same revision."""
    from wirework.store.etcd import range_end
    from wirework.store.etcd_watch import EtcdWatch

    start = etcd_store._raw("idle/")
    watch = EtcdWatch(etcd_store.conn, start, range_end(start), etcd_store.revision() + 1,
                      strip=len(etcd_store.prefix.encode()), idle=0.2)
    assert watch.next(1.0) == []  # several silent periods, each ending in a reopen
    rev = etcd_store.put("idle/a", 1)
    assert watch.next(5.0) == [Event("idle/a", 1, rev)]
    assert watch.next(0.6) == []  # reopened again meanwhile: nothing repeated
    etcd_store.put("idle/b", 2)
    assert [e.key for e in _drain(watch, 1)] == ["idle/b"]
    watch.cancel()
    assert watch.cancelled and not watch._thread.is_alive()  # the blocked reader was woken and ended

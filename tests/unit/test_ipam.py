"""IPAM over the store: cursor allocation, static reservations, comeback, concurrency, scale."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from wirework.errors import Conflict, InvalidInput
from wirework.ipam import AddressRange, Ipam
from wirework.store import open_store
from wirework.store.sqlite import SqliteStore

NET = AddressRange("n1", "10.10.0.0/24", "10.10.0.1")


@pytest.fixture
def ipam(tmp_path: Path) -> Ipam:
    return Ipam(SqliteStore(str(tmp_path / "state.db")), "-")


def test_sequential_allocation_skips_gateway_and_edges(ipam: Ipam) -> None:
    ips = [ipam.allocate(NET, f"g{i}").ip for i in range(3)]
    assert ips == ["10.10.0.2", "10.10.0.3", "10.10.0.4"]


def test_same_owner_gets_same_lease(ipam: Ipam) -> None:
    first = ipam.allocate(NET, "guest-a")
    assert ipam.allocate(NET, "guest-a") == first


def test_cursor_moves_on_after_release_and_owner_comes_back(ipam: Ipam) -> None:
    a = ipam.allocate(NET, "a").ip
    ipam.allocate(NET, "b")
    assert ipam.release(NET.network, "a") == a
    assert ipam.allocate(NET, "c").ip == "10.10.0.4"  # not the address just freed
    assert ipam.allocate(NET, "a").ip == a  # a comes back and gets its address again


def test_static_outside_dynamic_range_and_never_handed_out(ipam: Ipam) -> None:
    net = AddressRange("n2", "10.20.0.0/24", "10.20.0.1", "10.20.0.0/30")  # dynamic: .2, .3 (.1 is the gateway)
    assert ipam.allocate(net, "static", "10.20.0.100").static
    assert [ipam.allocate(net, f"dyn{i}").ip for i in range(2)] == ["10.20.0.2", "10.20.0.3"]
    with pytest.raises(Conflict, match="no free address"):
        ipam.allocate(net, "dyn3")
    with pytest.raises(InvalidInput, match="inside the dynamic range"):
        ipam.allocate(net, "x", "10.20.0.2")
    with pytest.raises(Conflict, match="already taken by static"):
        ipam.allocate(net, "other", "10.20.0.100")


@pytest.mark.parametrize("ip,why", [("10.10.1.5", "outside"), ("10.10.0.1", "gateway"), ("10.10.0.255", "broadcast"),
                                    ("nope", "not an IP")])
def test_bad_static(ipam: Ipam, ip: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        ipam.allocate(NET, "g", ip)


def test_wraps_around_and_fills_holes(ipam: Ipam) -> None:
    small = AddressRange("s", "10.30.0.0/29", "10.30.0.1")  # .2-.6 usable
    for i in range(5):
        ipam.allocate(small, f"g{i}")
    ipam.release("s", "g1")
    assert ipam.allocate(small, "new").ip == "10.30.0.3"


def test_sweep_frees_orphans_of_dead_processes_only(ipam: Ipam) -> None:
    ipam.allocate(NET, "connected")
    mine = ipam.allocate(NET, "in-flight-here")
    store = ipam.store
    orphan = ipam.allocate(NET, "orphan")
    key = f"ipam/-/n1/ip/{orphan.ip}"
    store.put(key, {**store.get(key).value, "pid": 999999, "pid_start": "1"})  # type: ignore[union-attr]
    freed = ipam.sweep("n1", lambda owner: owner == "connected")
    assert [lease.ip for lease in freed] == [orphan.ip]
    assert ipam.lease_of("n1", "in-flight-here") == mine


def _worker(path: str, n: int, q: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    ipam = Ipam(SqliteStore(path), "-")
    rng = AddressRange("big", "10.40.0.0/16", "10.40.0.1")
    q.put([ipam.allocate(rng, f"p{os.getpid()}-{i}").ip for i in range(n)])


def test_concurrent_processes_never_share_an_address(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    SqliteStore(path).close()
    q: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    procs = [multiprocessing.get_context("fork").Process(target=_worker, args=(path, 60, q)) for _ in range(4)]
    for p in procs:
        p.start()
    got = [ip for _ in procs for ip in q.get(timeout=60)]
    for p in procs:
        p.join(timeout=30)
    assert len(got) == 240 and len(set(got)) == 240


class CountingStore(SqliteStore):
    """Counts the reads an allocation makes: a cost that grew with the number of leases would
    show up as a scan or as more reads (the time it takes is in bench/, not in a unit test)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.reads = {"get": 0, "scan": 0}

    def get(self, key: str):  # type: ignore[no-untyped-def]
        self.reads["get"] += 1
        return super().get(key)

    def scan(self, prefix: str):  # type: ignore[no-untyped-def]
        self.reads["scan"] += 1
        return super().scan(prefix)


def _reads_per_allocation(tmp_path: Path, taken: int) -> dict[str, float]:
    from wirework.store.base import Put

    store = CountingStore(str(tmp_path / f"state{taken}.db"))
    ipam = Ipam(store, "-")
    rng = AddressRange("big", "10.50.0.0/16", "10.50.0.1")
    ops = []
    for i in range(2, taken + 2):  # leases already taken, written directly (the setup, not what is counted)
        ip = f"10.50.{i // 256}.{i % 256}"
        ops += [Put(f"ipam/-/big/ip/{ip}", {"ip": ip, "owner": f"o{i}", "static": False, "pid": 0, "pid_start": "",
                                              "created": 0.0}),
                Put(f"ipam/-/big/owner/x{i}", {"ip": ip, "owner": f"o{i}"})]
    store.txn([], ops)
    last = taken + 1
    store.put("ipam/-/big/cursor", {"ip": f"10.50.{last // 256}.{last % 256}"})
    store.reads = {"get": 0, "scan": 0}
    for i in range(50):
        ipam.allocate(rng, f"new{i}")
    return {k: v / 50 for k, v in store.reads.items()}


def test_allocation_cost_does_not_grow_with_the_leases_taken(tmp_path: Path) -> None:
    few, many = _reads_per_allocation(tmp_path, 20), _reads_per_allocation(tmp_path, 20_000)
    assert many == few and many["scan"] == 0, (few, many)


def test_memory_store_works_too() -> None:
    ipam = Ipam(open_store("memory"), "h")
    assert ipam.allocate(NET, "a").ip == "10.10.0.2"

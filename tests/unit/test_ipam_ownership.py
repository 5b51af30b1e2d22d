"""Leases taken by an operation: refused to a concurrent operation, released only by their own."""

from __future__ import annotations

import subprocess
from dataclasses import asdict, replace

import pytest

from wirework.errors import Conflict
from wirework.ipam import AddressRange, Ipam
from wirework.kernel.proc import process_start
from wirework.plan.journal import deactivate, operation
from wirework.store.base import Put
from wirework.store.sqlite import SqliteStore

NET = AddressRange("n1", "10.10.0.0/24", "10.10.0.1")


@pytest.fixture
def ipam() -> Ipam:
    return Ipam(SqliteStore(":memory:"), "-")


def test_a_lease_taken_by_a_running_operation_is_refused_to_another(ipam: Ipam) -> None:
    with operation() as first, operation() as second:
        lease = ipam.allocate(NET, "g", op=first)
        assert lease.op == first
        with pytest.raises(Conflict, match="being connected to n1 by another process"):
            ipam.allocate(NET, "g", op=second)
        assert ipam.allocate(NET, "g", op=first) == lease  # its own operation asking again


def test_a_failed_operation_releases_only_its_own_lease(ipam: Ipam) -> None:
    with operation() as winner:
        won = ipam.allocate(NET, "g", op=winner)
        ipam.store.put(f"ipam/-/n1/ip/{won.ip}", asdict(won.settled()))  # the winner's commit
    with operation() as loser:
        assert ipam.allocate(NET, "g", op=loser) == won.settled()  # a connected guest's lease, as it is
        assert not ipam.release_own("n1", "g", loser)
    assert ipam.lease_of("n1", "g") == won.settled()
    with operation() as mine:
        other = ipam.allocate(NET, "h", op=mine)
        assert ipam.release_own("n1", "h", mine) and ipam.lease_of("n1", "h") is None and other.ip


def test_a_lease_of_a_dead_operation_is_reused(ipam: Ipam) -> None:
    with operation() as gone:
        lease = ipam.allocate(NET, "g", op=gone)
    deactivate(gone)  # this process lives on, the operation ended without settling (a failed close)
    with operation() as next_op:
        assert ipam.allocate(NET, "g", op=next_op) == lease
    sleeper = subprocess.Popen(["sleep", "30"])
    try:  # another process's operation: alive while that process is
        alive = replace(lease, op="x", pid=sleeper.pid, pid_start=process_start(sleeper.pid))
        ipam.store.put(f"ipam/-/n1/ip/{lease.ip}", asdict(alive))
        with operation() as next_op, pytest.raises(Conflict):
            ipam.allocate(NET, "g", op=next_op)
    finally:
        sleeper.kill()
        sleeper.wait()
    with operation() as next_op:
        assert ipam.allocate(NET, "g", op=next_op).ip == lease.ip


def test_leases_written_by_older_versions_are_reused(ipam: Ipam) -> None:
    old = {"ip": "10.10.0.7", "owner": "g", "static": False, "pid": 999_999_999, "pid_start": "x", "created": 0.0}
    ipam.store.txn([], [Put("ipam/-/n1/ip/10.10.0.7", old), Put(ipam._owner_key("n1", "g"), {"ip": "10.10.0.7", "owner": "g"})])
    with operation() as op:
        assert ipam.allocate(NET, "g", op=op).ip == "10.10.0.7"

"""Lease allocation and release: create-if-absent transactions, a cursor, an owner index.

Every write is one store transaction guarded by compares, so concurrent processes (or hosts,
with etcd) never hand out an address twice and never lose an update. A lease carries the pid
of the process that took it: a lease whose process died before the guest was recorded as
connected is an orphan that `sweep` (run by `wirework up`) reclaims.
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from wirework.errors import Conflict
from wirework.ipam.ranges import AddressRange
from wirework.kernel.proc import process_alive, process_start
from wirework.naming import short_hash
from wirework.store.base import Compare, Delete, Op, Put, Store

PREFIX = "ipam/"
_QUICK_TRIES = 32  # candidates tried one by one before falling back to one scan of the leases


@dataclass(frozen=True)
class Lease:
    ip: str
    owner: str  # the guest's stable key (container id, netns name)
    static: bool = False
    pid: int = 0
    pid_start: str = ""
    created: float = 0.0

    @classmethod
    def new(cls, ip: str, owner: str, static: bool) -> Lease:
        pid = os.getpid()
        return cls(ip, owner, static, pid, process_start(pid), time.time())

    def taker_alive(self) -> bool:
        return process_alive(self.pid, self.pid_start)


class Ipam:
    def __init__(self, store: Store, host: str) -> None:
        self.store = store
        self.host = host

    # -- keys ------------------------------------------------------------------------------
    def _base(self, network: str) -> str:
        return f"{PREFIX}{self.host}/{network}/"

    def _ip_key(self, network: str, ip: str) -> str:
        return f"{self._base(network)}ip/{ip}"

    def _owner_key(self, network: str, owner: str) -> str:
        return f"{self._base(network)}owner/{short_hash(owner, length=16)}"

    def _hint_key(self, network: str, owner: str) -> str:
        return f"{self._base(network)}last/{short_hash(owner, length=16)}"

    # -- queries ---------------------------------------------------------------------------
    def lease_of(self, network: str, owner: str) -> Lease | None:
        entry = self.store.get(self._owner_key(network, owner))
        if entry is None:
            return None
        lease = self.store.get(self._ip_key(network, entry.value["ip"]))
        return Lease(**lease.value) if lease is not None and lease.value["owner"] == owner else None

    def lease_at(self, network: str, ip: str) -> Lease | None:
        entry = self.store.get(self._ip_key(network, ip))
        return Lease(**entry.value) if entry is not None else None

    def leases(self, network: str) -> list[Lease]:
        return [Lease(**e.value) for e in self.store.scan(self._base(network) + "ip/")]

    # -- allocation ------------------------------------------------------------------------
    def allocate(self, rng: AddressRange, owner: str, requested: str | None = None, *,
                 in_range_ok: bool = False) -> Lease:
        """The owner's lease: the one it holds, the requested address, or the next free one."""
        if requested is not None:
            requested = rng.check_static(requested, in_range_ok=in_range_ok)
        held = self.lease_of(rng.network, owner)
        if held is not None and (requested is None or held.ip == requested):
            return held
        if held is not None:
            self.release(rng.network, owner)
        if requested is not None:
            return self._claim_requested(rng, owner, requested)
        return self._claim_dynamic(rng, owner)

    def _claim_requested(self, rng: AddressRange, owner: str, ip: str) -> Lease:
        lease = self._claim(rng.network, owner, ip, static=True)
        if lease is not None:
            return lease
        taken = self.store.get(self._ip_key(rng.network, ip))
        who = taken.value["owner"] if taken else "another guest"
        raise Conflict(f"address {ip} on network {rng.network} is already taken by {who}; "
                       f"pick another --ip or leave it out for a dynamic address")

    def _claim_dynamic(self, rng: AddressRange, owner: str) -> Lease:
        hint = self.store.get(self._hint_key(rng.network, owner))
        if hint is not None and rng.in_dynamic_range(hint.value["ip"]):
            lease = self._claim(rng.network, owner, hint.value["ip"], static=False)
            if lease is not None:
                return lease
        cursor = self.store.get(self._base(rng.network) + "cursor")
        after = int(ipaddress.ip_address(cursor.value["ip"])) if cursor is not None else None
        for tries, ip in enumerate(rng.candidates(after)):
            if tries >= _QUICK_TRIES:
                break
            lease = self._try(rng.network, owner, ip)
            if lease is not None:
                return lease
        used = {lease.ip for lease in self.leases(rng.network)}  # crowded: one scan, then walk
        for ip in rng.candidates(after):
            if ip not in used:
                lease = self._try(rng.network, owner, ip)
                if lease is not None:
                    return lease
        raise Conflict(f"network {rng.network} has no free address left in {rng.ip_range or rng.subnet}; "
                       f"disconnect guests, or create a network with a larger subnet")

    def _try(self, network: str, owner: str, ip: str) -> Lease | None:
        if self.store.get(self._ip_key(network, ip)) is not None:
            return None  # a cheap read first: a failed write transaction takes the write lock
        return self._claim(network, owner, ip, static=False)

    def _claim(self, network: str, owner: str, ip: str, *, static: bool) -> Lease | None:
        lease = Lease.new(ip, owner, static)
        owner_key = self._owner_key(network, owner)
        ops: list[Op] = [Put(self._ip_key(network, ip), asdict(lease)), Put(owner_key, {"ip": ip, "owner": owner})]
        if not static:
            ops.append(Put(self._base(network) + "cursor", {"ip": ip}))
        if self.store.txn([Compare(self._ip_key(network, ip), 0), Compare(owner_key, 0)], ops):
            return lease
        mine = self.lease_of(network, owner)  # a concurrent call for the same owner won
        return mine if mine is not None and mine.ip == ip else None

    # -- release ---------------------------------------------------------------------------
    def release(self, network: str, owner: str, *, remember: bool = True) -> str | None:
        """Free the owner's lease (remembering it, so the owner gets it back next time)."""
        for _ in range(5):
            own = self.store.get(self._owner_key(network, owner))
            if own is None:
                return None
            ip = own.value["ip"]
            lease = self.store.get(self._ip_key(network, ip))
            compares = [Compare(own.key, own.revision)]
            ops: list[Op] = [Delete(own.key)]
            if remember:
                ops.append(Put(self._hint_key(network, owner), {"ip": ip}))
            if lease is not None and lease.value["owner"] == owner:
                compares.append(Compare(lease.key, lease.revision))
                ops.append(Delete(lease.key))
            if self.store.txn(compares, ops):
                return str(ip)
        raise Conflict(f"the lease of {owner} on network {network} kept changing under a concurrent process; retry")

    def sweep(self, network: str, connected: Callable[[str], bool]) -> list[Lease]:
        """Release leases whose owner is not connected and whose taking process is dead."""
        freed = []
        for lease in self.leases(network):
            if not connected(lease.owner) and not lease.taker_alive():
                self.release(network, lease.owner)
                freed.append(lease)
        return freed

    def drop_network(self, network: str) -> None:
        """Forget every lease, hint and the cursor of a removed network."""
        keys = [e.key for e in self.store.scan(self._base(network))]
        if keys:
            self.store.txn([], [Delete(k) for k in keys])

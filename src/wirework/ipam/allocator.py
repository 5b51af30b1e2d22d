"""Lease allocation and release: create-if-absent transactions, a cursor, an owner index.

Every write is one store transaction guarded by compares, so concurrent processes (or hosts,
with etcd) never hand out an address twice and never lose an update. While a connect runs,
its lease names the operation (id, pid, process start time: `plan.journal.Holder`): another
operation for the same guest is refused instead of sharing it, a failed operation releases
only a lease it still holds itself (`release_own`), and the commit that records the guest as
connected settles the lease (`settled`: no operation any more). A lease whose operation died
before that is an orphan: `sweep` (run by `wirework up`) reclaims it, and a later connect of
the same guest reuses it.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from wirework.errors import Conflict
from wirework.ipam.ranges import AddressRange
from wirework.kernel.proc import process_alive
from wirework.model.guest import label_of
from wirework.naming import short_hash
from wirework.plan.journal import Holder
from wirework.store.base import Compare, Delete, Entry, Op, Put, Store

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
    op: str = ""  # the operation taking it; "" once settled (or written by an older version)

    @classmethod
    def new(cls, ip: str, owner: str, static: bool, op: str = "") -> Lease:
        holder = Holder(op)
        return cls(ip, owner, static, holder.pid, holder.pid_start, time.time(), op)

    def taker_alive(self) -> bool:
        if self.op:
            return Holder(self.op, self.pid, self.pid_start).alive()
        return process_alive(self.pid, self.pid_start)  # settled (pid 0), or an older version's

    def busy(self, op: str) -> bool:
        """Taken by another operation that may still be running."""
        return bool(self.op) and self.op != op and self.taker_alive()

    def settled(self) -> Lease:
        return Lease(self.ip, self.owner, self.static, 0, "", self.created)


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
    def allocate(self, rng: AddressRange, owner: str, requested: str | None = None, *, op: str = "",
                 in_range_ok: bool = False) -> Lease:
        """The owner's lease: the one it holds, the requested address, or the next free one.

        With `op` (the operation's id) a new lease is taken for that operation: a lease that
        another running operation took for the same owner is refused; one that is settled (a
        connected guest's) or was left by a dead operation is reused as it is, so the failure
        path of this operation (`release_own`) never frees it. `in_range_ok`: a requested address may
        lie in the dynamic range (Docker's --ip may).
        """
        if requested is not None:
            requested = rng.check_static(requested, in_range_ok=in_range_ok)
        for _ in range(5):
            held = self._lease_entry(rng.network, owner)
            if held is not None:
                self._check_free(rng.network, held[0], op)
            if held is not None and (requested is None or held[0].ip == requested):
                return held[0]
            if held is not None:
                self.release(rng.network, owner)
            try:
                if requested is not None:
                    return self._claim_requested(rng, owner, requested, op)
                return self._claim_dynamic(rng, owner, op)
            except _OwnerRaced:
                continue
        raise Conflict(f"the lease of {owner} on network {rng.network} kept changing under a concurrent process; retry")

    @staticmethod
    def _check_free(network: str, held: Lease, op: str) -> None:
        if op and held.busy(op):
            raise Conflict(f"guest {held.owner} is being connected to {network} by another process "
                           f"(pid {held.pid}) right now; wait for it to finish")

    def _lease_entry(self, network: str, owner: str) -> tuple[Lease, Entry] | None:
        entry = self.store.get(self._owner_key(network, owner))
        if entry is None:
            return None
        lease = self.store.get(self._ip_key(network, entry.value["ip"]))
        if lease is None or lease.value["owner"] != owner:
            self.store.txn([Compare(entry.key, entry.revision)], [Delete(entry.key)])  # an index left dangling
            return None
        return Lease(**lease.value), lease

    def _claim_requested(self, rng: AddressRange, owner: str, ip: str, op: str) -> Lease:
        lease = self._claim(rng.network, owner, ip, static=True, op=op)
        if lease is not None:
            return lease
        taken = self.store.get(self._ip_key(rng.network, ip))
        who = label_of(taken.value["owner"]) if taken else "another guest"
        raise Conflict(f"address {ip} on network {rng.network} is already taken by {who}; "
                       f"pick another --ip or leave it out for a dynamic address")

    def _claim_dynamic(self, rng: AddressRange, owner: str, op: str) -> Lease:
        hint = self.store.get(self._hint_key(rng.network, owner))
        if hint is not None and rng.in_dynamic_range(hint.value["ip"]):
            lease = self._claim(rng.network, owner, hint.value["ip"], static=False, op=op)
            if lease is not None:
                return lease
        cursor = self.store.get(self._base(rng.network) + "cursor")
        after = int(ipaddress.ip_address(cursor.value["ip"])) if cursor is not None else None
        for tries, ip in enumerate(rng.candidates(after)):
            if tries >= _QUICK_TRIES:
                break
            lease = self._try(rng.network, owner, ip, op)
            if lease is not None:
                return lease
        used = {lease.ip for lease in self.leases(rng.network)}  # crowded: one scan, then walk
        for ip in rng.candidates(after):
            if ip not in used:
                lease = self._try(rng.network, owner, ip, op)
                if lease is not None:
                    return lease
        raise Conflict(f"network {rng.network} has no free address left in {rng.ip_range or rng.subnet}; "
                       f"disconnect guests, or create a network with a larger subnet")

    def _try(self, network: str, owner: str, ip: str, op: str) -> Lease | None:
        if self.store.get(self._ip_key(network, ip)) is not None:
            return None  # a cheap read first: a failed write transaction takes the write lock
        return self._claim(network, owner, ip, static=False, op=op)

    def _claim(self, network: str, owner: str, ip: str, *, static: bool, op: str) -> Lease | None:
        """Create-if-absent of the address and of the owner's index; None when the address is
        taken. A concurrent call for the same owner that won raises _OwnerRaced (decide again)."""
        lease = Lease.new(ip, owner, static, op)
        owner_key = self._owner_key(network, owner)
        ops: list[Op] = [Put(self._ip_key(network, ip), asdict(lease)), Put(owner_key, {"ip": ip, "owner": owner})]
        if not static:
            ops.append(Put(self._base(network) + "cursor", {"ip": ip}))
        if self.store.txn([Compare(self._ip_key(network, ip), 0), Compare(owner_key, 0)], ops):
            return lease
        if self.store.get(owner_key) is not None:
            raise _OwnerRaced
        return None

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

    def release_own(self, network: str, owner: str, op: str) -> bool:
        """Free the owner's lease only while operation `op` holds it (a failed connect's own)."""
        held = self._lease_entry(network, owner)
        own = self.store.get(self._owner_key(network, owner))
        if held is None or own is None or held[0].op != op or not op:
            return False
        return self.store.txn([Compare(own.key, own.revision), Compare(held[1].key, held[1].revision)],
                              [Delete(own.key), Delete(held[1].key)])

    def settle_op(self, network: str, lease: Lease) -> Put:
        """The write that makes a lease the connected guest's own (no operation holds it any more)."""
        return Put(self._ip_key(network, lease.ip), asdict(lease.settled()))

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


class _OwnerRaced(Exception):
    """A concurrent allocation for the same owner won the owner's index."""

"""Subnets reserved before their network exists (a Docker IPAM pool between RequestPool and
CreateNetwork), so that two networks being made at once never get the same range.

`subnetres/<host>/<subnet>` holds who reserved it, when, the network it became (once bound) and
the holder's own data (for Docker pools: the sub-pool, the gateway, auxiliary addresses).
Created only if absent; `networks.subnets.occupancy` counts every reservation as taken.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from wirework.store.base import Compare, Delete, Put, Store

PREFIX = "subnetres/"


@dataclass(frozen=True)
class Reservation:
    subnet: str
    holder: str  # who asked, for messages: "Docker IPAM", say
    network: str = ""  # the wirework network it became ("" until then)
    data: dict[str, Any] = field(default_factory=dict)
    created: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def key(host: str, subnet: str) -> str:
    return f"{PREFIX}{host}/{subnet}"


def load(store: Store, host: str, subnet: str) -> tuple[Reservation, int] | None:
    """The reservation and its revision (for compare-and-swap updates)."""
    entry = store.get(key(host, subnet))
    return (Reservation(**entry.value), entry.revision) if entry else None


def all_reservations(store: Store, host: str) -> list[Reservation]:
    return [Reservation(**e.value) for e in store.scan(f"{PREFIX}{host}/")]


def reserve(store: Store, host: str, res: Reservation) -> bool:
    """Create-if-absent: False when the subnet is already reserved."""
    return store.create(key(host, res.subnet), res.to_dict())


def update(store: Store, host: str, res: Reservation, revision: int, **changes: Any) -> Reservation | None:
    """Compare-and-swap: the updated reservation, or None when it changed meanwhile."""
    new = replace(res, **changes)
    return new if store.txn([Compare(key(host, res.subnet), revision)], [Put(key(host, res.subnet), new.to_dict())]) \
        else None


def release(store: Store, host: str, subnet: str) -> None:
    store.txn([], [Delete(key(host, subnet))])

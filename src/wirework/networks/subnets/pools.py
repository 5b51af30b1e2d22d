"""Choosing a subnet for a new network: pure logic over what the host already uses (S4).

Candidates come from address pools (Docker's defaults unless configured: 172.17.0.0/16 ...
172.31.0.0/16 as /16s, then 192.168.0.0/16 as /20s); the first candidate that overlaps nothing
in use wins. What is "in use" is gathered by `networks.subnets.occupancy` into `Occupied` records
(routes of every table, interface addresses, other wirework/Docker/libvirt/CNI networks, DNS
servers) so that every skipped candidate can be explained.

Pools are configured as `BASE/LEN:SIZE[,BASE/LEN:SIZE...]` (env `WIREWORK_ADDRESS_POOLS` or the
API's `pools=`), e.g. `10.200.0.0/16:24` hands out 10.200.0.0/24, 10.200.1.0/24, ...
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from wirework.errors import Conflict, InvalidInput

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_POOLS = "172.17.0.0/16:16,172.18.0.0/15:16,172.20.0.0/14:16,172.24.0.0/13:16,192.168.0.0/16:20"
POOLS_ENV = "WIREWORK_ADDRESS_POOLS"
MAX_CANDIDATES = 4096  # a pool of /24s in a /8 has 65536; nobody needs to walk further


@dataclass(frozen=True)
class Pool:
    base: str
    size: int

    def candidates(self) -> Iterator[Network]:
        net = ipaddress.ip_network(self.base)
        return net.subnets(new_prefix=self.size)


@dataclass(frozen=True)
class Occupied:
    """A range the host already uses, and why (shown when a candidate is skipped)."""

    network: str
    reason: str


@dataclass(frozen=True)
class Choice:
    subnet: str
    skipped: tuple[tuple[str, str], ...] = field(default=())  # (candidate, why it was skipped)


def parse_pools(text: str) -> tuple[Pool, ...]:
    pools = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        base, _, size = part.rpartition(":")
        try:
            net = ipaddress.ip_network(base, strict=True)
            prefix = int(size)
        except ValueError:
            raise InvalidInput(what="address pool", value=part,
                               why="write it as BASE/LEN:SIZE, e.g. 10.200.0.0/16:24") from None
        if not net.prefixlen <= prefix <= net.max_prefixlen - 2:
            raise InvalidInput(what="address pool", value=part,
                               why=f"SIZE must be between {net.prefixlen} and {net.max_prefixlen - 2}")
        pools.append(Pool(str(net), prefix))
    if not pools:
        raise InvalidInput(what="address pool", value=text, why="it lists no pool; e.g. 10.200.0.0/16:24")
    return tuple(pools)


def overlaps(candidate: Network, occupied: Sequence[Occupied]) -> list[Occupied]:
    hits = []
    for occ in occupied:
        net = ipaddress.ip_network(occ.network, strict=False)
        if net.version == candidate.version and net.prefixlen > 0 and net.overlaps(candidate):
            hits.append(occ)
    return hits


def pick_subnet(pools: Sequence[Pool], occupied: Sequence[Occupied]) -> Choice:
    """The first candidate of the pools that overlaps nothing occupied (default routes aside)."""
    skipped: list[tuple[str, str]] = []
    seen = 0
    for pool in pools:
        for candidate in pool.candidates():
            seen += 1
            if seen > MAX_CANDIDATES:
                break
            hits = overlaps(candidate, occupied)
            if not hits:
                return Choice(str(candidate), tuple(skipped))
            skipped.append((str(candidate), "; ".join(h.reason for h in hits[:3])))
    raise Conflict(f"no free subnet left in the address pools ({', '.join(f'{p.base}:{p.size}' for p in pools)}); "
                   f"every candidate collides with something in use; give --subnet or configure {POOLS_ENV}")


def check_subnet(subnet: Network, occupied: Sequence[Occupied], force: bool, *,
                 force_hint: str = "add --force") -> list[str]:
    """Refuse an explicit subnet that collides (naming what it collides with) unless forced."""
    hits = overlaps(subnet, occupied)
    hard = [h for h in hits if h.reason.startswith("wirework network")]
    if hard:
        raise Conflict(f"subnet {subnet} overlaps {hard[0].reason}; choose another --subnet "
                       f"(wirework networks never overlap, not even with --force)")
    if hits and not force:
        raise Conflict(f"subnet {subnet} collides with {hits[0].reason}; choose another --subnet, "
                       f"or {force_hint} if that overlap is intended")
    return [f"subnet {subnet} overlaps {h.reason} (kept because of --force)" for h in hits]


def gateway_for(subnet: Network, gateway: str | None) -> str:
    """The gateway: the given one (inside the subnet, a host address) or the first host."""
    if gateway is None:
        return str(next(subnet.hosts()))
    try:
        gw = ipaddress.ip_address(gateway)
    except ValueError:
        raise InvalidInput(what="gateway", value=gateway, why="it is not an IP address") from None
    if gw.version != subnet.version or gw not in subnet:
        raise InvalidInput(what="gateway", value=gateway, why=f"it is outside the subnet {subnet}; use an address inside it")
    if subnet.num_addresses > 2 and gw in (subnet.network_address, subnet.broadcast_address):
        raise InvalidInput(what="gateway", value=gateway,
                           why=f"it is the network or broadcast address of {subnet}; use a host address")
    return str(gw)


def ip_range_for(subnet: Network, ip_range: str | None) -> str | None:
    if ip_range is None:
        return None
    try:
        rng = ipaddress.ip_network(ip_range, strict=True)
    except ValueError as exc:
        raise InvalidInput(what="IP range", value=ip_range, why=f"{exc}; write it as NETWORK/PREFIX") from None
    if rng.version != subnet.version or not rng.subnet_of(subnet):  # type: ignore[arg-type]
        raise InvalidInput(what="IP range", value=ip_range, why=f"it is not inside the subnet {subnet}")
    return str(rng)

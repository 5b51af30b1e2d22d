"""A host's claims in the shared store: its agent record and one subnet per network.

Both are bound to the agent's lease, so a host that dies loses them when the lease expires
(etcd deletes the keys, every watching agent sees it). A subnet is claimed with create-if-absent
in the same transaction that checks the network's definition is unchanged; a lost race re-reads
and tries the next free subnet. Candidates start at a place derived from the host id, so hosts
joining at once rarely collide, and the subnet a host held before is tried first.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import replace

from wirework.cluster import keys, registry
from wirework.cluster.model import DRAINING, ClusterNetwork, HostRecord, HostSubnet
from wirework.errors import Conflict
from wirework.naming import short_hash
from wirework.store.base import ClusterStore, Compare, Delete, Put

_RETRIES = 32


def claim_host(store: ClusterStore, record: HostRecord, ttl: float) -> None:
    """Create this host's agent record; refuse when another live agent uses the same id."""
    key = keys.host_key(record.host)
    for _ in range(_RETRIES):
        entry = store.get(key)
        if entry is not None:
            other = HostRecord.from_dict(entry.value)
            if other.lease != record.lease:
                raise Conflict(
                    f"host id {record.host} is in use by another agent (public IP {other.public_ip}, host "
                    f"{other.hostname or '?'}, started {time.strftime('%H:%M:%S', time.localtime(other.started))}); "
                    f"give this host another --host-id, or if that agent is gone wait {ttl:g} s for its lease to expire")
            if store.txn([Compare(key, entry.revision)], [Put(key, record.to_dict(), record.lease)]):
                return
        elif store.txn([Compare(key, 0)], [Put(key, record.to_dict(), record.lease)]):
            return
    raise Conflict(f"host id {record.host}: its record kept changing under a concurrent agent; retry")


def subnet_at(net: ClusterNetwork, index: int) -> str:
    base = ipaddress.IPv4Network(net.subnet)
    size = 2 ** (32 - net.host_subnet_len)
    return f"{base.network_address + index * size}/{net.host_subnet_len}"


def next_free(net: ClusterNetwork, taken: set[str], host: str, preferred: str | None = None) -> str | None:
    """Pure: the preferred subnet when free, else the first free one from the host's offset."""
    if preferred and preferred not in taken and _inside(net, preferred):
        return preferred
    total = net.capacity
    if len(taken) >= total:
        return None
    start = int(short_hash("subnet", host, length=8), 16) % total
    for step in range(total):
        candidate = subnet_at(net, (start + step) % total)
        if candidate not in taken:
            return candidate
    return None


def _inside(net: ClusterNetwork, subnet: str) -> bool:
    try:
        mine = ipaddress.IPv4Network(subnet)
    except ValueError:
        return False
    return mine.prefixlen == net.host_subnet_len and mine.subnet_of(ipaddress.IPv4Network(net.subnet))


def claim_subnet(store: ClusterStore, name: str, host: str, public_ip: str, lease: int, *, vtep_mac: str = "",
                 preferred: str | None = None, since: float | None = None) -> HostSubnet:
    """This host's subnet of network `name`: the one it holds, the preferred one, or a free one."""
    for _ in range(_RETRIES):
        defined = registry.require(store, name)
        if defined.network.state == DRAINING:
            raise Conflict(f"cluster network {name} is being removed (draining); this host does not join it")
        records = registry.host_subnets(store, name)
        net_cmp = Compare(keys.net_key(name), defined.revision)
        mine = next(((r, rev) for r, rev in records if r.host == host), None)
        if mine is not None:
            rec, rev = mine
            wanted = replace(rec, lease=lease, public_ip=public_ip, vtep_mac=vtep_mac or rec.vtep_mac)
            if wanted == rec or _put(store, wanted, [Compare(_key(rec), rev), net_cmp]):
                return wanted
            continue
        pick = next_free(defined.network, {r.subnet for r, _ in records}, host, preferred)
        if pick is None:
            raise _full(defined.network, [r for r, _ in records])
        rec = HostSubnet(name, pick, host, public_ip, vtep_mac, lease, since or time.time())
        if _put(store, rec, [Compare(_key(rec), 0), net_cmp]):
            return rec
    raise Conflict(f"cluster network {name}: lost the race for a free subnet {_RETRIES} times; retry")


def _key(rec: HostSubnet) -> str:
    return keys.subnet_key(rec.network, rec.subnet)


def _put(store: ClusterStore, rec: HostSubnet, compares: list[Compare]) -> bool:
    ops: list[Put | Delete] = [Put(_key(rec), rec.to_dict(), rec.lease),
                               Put(keys.join_key(rec.network), {"host": rec.host, "at": time.time()})]
    return store.txn(compares, ops)


def _full(net: ClusterNetwork, records: list[HostSubnet]) -> Conflict:
    return Conflict(f"cluster network {net.name} has no free host subnet: all {net.capacity} /{net.host_subnet_len}s "
                    f"of {net.subnet} are held by {len(records)} hosts; remove a host, or create a network with a "
                    f"larger subnet or a longer --host-subnet-len")


def release_subnet(store: ClusterStore, rec: HostSubnet) -> bool:
    """Give the subnet back (only while it is still this host's record)."""
    entry = store.get(_key(rec))
    if entry is None or HostSubnet.from_dict(entry.value).host != rec.host:
        return False
    return store.txn([Compare(entry.key, entry.revision)], [Delete(entry.key)])


def set_status(store: ClusterStore, rec: HostSubnet, status: str) -> HostSubnet | None:
    """Publish this host's health for the network (`host ls` shows it); None if the record is gone."""
    entry = store.get(_key(rec))
    if entry is None or HostSubnet.from_dict(entry.value).host != rec.host:
        return None
    new = replace(HostSubnet.from_dict(entry.value), status=status)
    store.txn([Compare(entry.key, entry.revision)], [Put(entry.key, new.to_dict(), new.lease)])
    return new

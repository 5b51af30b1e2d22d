"""Cluster network definitions in the shared store: define, list, drain, remove.

Each decision is one transaction: a definition is created together with its VNI claim and a
bump of the `netrev` guard, compared against the guard's revision at which the overlap check
read the other definitions; a removal compares the definition's and the join guard's
revisions, so a host that joins meanwhile makes the removal fail instead of being orphaned.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, replace

from wirework.cluster import keys
from wirework.cluster.model import ACTIVE, DRAINING, MAX_VNI, ClusterNetwork, HostSubnet
from wirework.errors import Conflict, NotFound
from wirework.store.base import ClusterStore, Compare, Delete, Entry, Put

_RETRIES = 20


@dataclass(frozen=True)
class Defined:
    network: ClusterNetwork
    revision: int
    changed: bool = False


def load(store: ClusterStore, name: str) -> Defined | None:
    entry = store.get(keys.net_key(name))
    return Defined(ClusterNetwork.from_dict(entry.value), entry.revision) if entry else None


def require(store: ClusterStore, name: str) -> Defined:
    found = load(store, name)
    if found is None:
        raise NotFound(what="cluster network", name=name,
                       fix="create it with 'wirework network create NAME --driver vxlan --subnet CIDR --store URL'")
    return found


def all_networks(store: ClusterStore) -> list[Defined]:
    return [Defined(ClusterNetwork.from_dict(e.value), e.revision) for e in store.scan(keys.NETS)]


def define(store: ClusterStore, net: ClusterNetwork) -> Defined:
    """Create the definition, or find the identical one (a repeated create changes nothing)."""
    for _ in range(_RETRIES):
        guard = store.get(keys.NETREV)
        others = all_networks(store)
        same = next((d for d in others if d.network.name == net.name), None)
        if same is not None:
            return _identical(same, net)
        _check_overlap(net, [d.network for d in others])
        wanted = _with_vni(net, [d.network for d in others])
        compares = [Compare(keys.net_key(net.name), 0), Compare(keys.NETREV, guard.revision if guard else 0)]
        ops: list[Put | Delete] = [Put(keys.net_key(net.name), wanted.to_dict()), Put(keys.NETREV, {"at": time.time()})]
        if wanted.family:
            assert wanted.vni is not None
            compares.append(Compare(keys.vni_key(wanted.family, wanted.vni), 0))
            ops.append(Put(keys.vni_key(wanted.family, wanted.vni), {"network": net.name}))
        if store.txn(compares, ops):
            made = load(store, net.name)
            return Defined(wanted, made.revision if made else 0, changed=True)
    raise Conflict(f"cluster network {net.name}: the definitions kept changing under concurrent creates; retry")


def preview(store: ClusterStore, net: ClusterNetwork) -> tuple[ClusterNetwork, bool]:
    """What `define` would store (its VNI chosen), and whether an identical one exists: the same
    checks, no write (--dry-run)."""
    others = all_networks(store)
    same = next((d for d in others if d.network.name == net.name), None)
    if same is not None:
        return _identical(same, net).network, True
    _check_overlap(net, [d.network for d in others])
    return _with_vni(net, [d.network for d in others]), False


def _identical(found: Defined, wanted: ClusterNetwork) -> Defined:
    have, want = found.network.definition(), wanted.definition()
    if want["vni"] is None:
        want["vni"] = have["vni"]  # an omitted VNI means "any": the chosen one is fine
    if have != want:
        diff = next(k for k in have if have[k] != want[k])
        raise Conflict(f"cluster network {wanted.name} already exists with {diff} {have[diff]!r}, not {want[diff]!r}; "
                       f"remove it first ('wirework network rm {wanted.name} --store URL') or pick another name")
    if found.network.state == DRAINING:
        raise Conflict(f"cluster network {wanted.name} is being removed (draining); wait until "
                       f"'wirework network rm {wanted.name} --force' finishes, then create it again")
    return found


def _check_overlap(net: ClusterNetwork, others: list[ClusterNetwork]) -> None:
    mine = ipaddress.IPv4Network(net.subnet)
    for other in others:
        if mine.overlaps(ipaddress.IPv4Network(other.subnet)):
            raise Conflict(f"subnet {net.subnet} of cluster network {net.name} overlaps cluster network "
                           f"{other.name} ({other.subnet}); choose a subnet outside it")


def _with_vni(net: ClusterNetwork, others: list[ClusterNetwork]) -> ClusterNetwork:
    """VXLAN networks get the lowest VNI not used by another network of the same family."""
    if net.vni is not None or net.driver not in ("vxlan", "ovs-vxlan"):
        if net.vni is not None:
            for other in others:
                if other.family == net.family and other.vni == net.vni:
                    raise Conflict(f"VNI {net.vni} is used by cluster network {other.name}; pick another --vni")
        return net
    used = {o.vni for o in others if o.family == "vxlan"}
    vni = next(n for n in range(1, MAX_VNI + 1) if n not in used)
    return replace(net, vni=vni)


# -- host subnets: read side ----------------------------------------------------------------
def host_subnets(store: ClusterStore, network: str) -> list[tuple[HostSubnet, int]]:
    """Every host's record of a network, with the record's revision."""
    return [(HostSubnet.from_dict(e.value), e.revision) for e in store.scan(keys.subnets_prefix(network))]


# -- removal --------------------------------------------------------------------------------
def remove(store: ClusterStore, name: str, *, force: bool = False, wait: float = 0.0) -> ClusterNetwork:
    """Remove a definition no host uses. `force`: mark it draining (agents leave), wait up to
    `wait` seconds for the hosts' records to go, then remove."""
    found = require(store, name)
    if force and found.network.state == ACTIVE:
        drained = found.network.draining()
        if not store.txn([Compare(keys.net_key(name), found.revision)], [Put(keys.net_key(name), drained.to_dict())]):
            raise Conflict(f"cluster network {name} changed while it was being drained; run the removal again")
    deadline = time.monotonic() + wait
    while True:
        found = require(store, name)
        guard = store.get(keys.join_key(name))
        users = host_subnets(store, name)
        if not users:
            if _delete(store, found, guard):
                return found.network
            continue
        if not force or time.monotonic() >= deadline:
            raise _in_use(name, [h for h, _ in users], force)
        time.sleep(0.1)


def _delete(store: ClusterStore, found: Defined, guard: Entry | None) -> bool:
    net = found.network
    ops: list[Put | Delete] = [Delete(keys.net_key(net.name)), Delete(keys.join_key(net.name)),
                               Put(keys.NETREV, {"at": time.time()})]
    if net.family:
        assert net.vni is not None
        ops.append(Delete(keys.vni_key(net.family, net.vni)))
    compares = [Compare(keys.net_key(net.name), found.revision), Compare(keys.join_key(net.name), guard.revision if guard else 0)]
    return store.txn(compares, ops)


def _in_use(name: str, users: list[HostSubnet], force: bool) -> Conflict:
    hosts = ", ".join(f"{h.host} ({h.subnet})" for h in sorted(users, key=lambda h: h.host)[:5])
    more = f" and {len(users) - 5} more" if len(users) > 5 else ""
    if force:
        return Conflict(f"cluster network {name} is draining but hosts still hold subnets: {hosts}{more}; their agents "
                        f"leave it as they see the change (a dead host's lease expires): run the removal again")
    return Conflict(f"cluster network {name} is used by {len(users)} host(s): {hosts}{more}; stop using it there, "
                    f"or add --force to disconnect their guests and drain it")

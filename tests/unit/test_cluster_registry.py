"""Cluster network definitions and host subnet claims against an in-memory shared store."""

from __future__ import annotations

import threading

import pytest

from wirework.cluster import keys, leases, registry
from wirework.cluster.model import HostRecord, validate_cluster_network
from wirework.errors import Conflict, InvalidInput
from wirework.testing import ManualClock, MemoryClusterStore


def net(name: str = "blue", **kw: object):  # type: ignore[no-untyped-def]
    opts = {"driver": "vxlan", "subnet": "10.244.0.0/16"} | kw
    return validate_cluster_network(name, **opts)  # type: ignore[arg-type]


@pytest.mark.parametrize(("opts", "why"), [
    ({"driver": "weave"}, "cluster networks use one of vxlan, host-gw, ovs-vxlan, ovs-gre"),
    ({"subnet": "10.244.0.0/16", "host_subnet_len": 16}, "it leaves room for one host at most"),
    ({"host_subnet_len": 12}, "must be longer than /16"),
    ({"host_subnet_len": 31}, "at most /30"),
    ({"subnet": "10.244.0.1/16"}, "host bits set"),
    ({"subnet": "fd00::/64"}, "IPv4"),
    ({"vni": 0}, "1 to 16777215"),
    ({"driver": "host-gw", "vni": 5}, "has no VNI"),
    ({"driver": "host-gw", "port": 4790}, "only the vxlan driver"),
])
def test_bad_definitions_are_refused(opts: dict[str, object], why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        net(**opts)


def test_define_is_create_or_verify_and_picks_distinct_vnis() -> None:
    store = MemoryClusterStore()
    first = registry.define(store, net("blue"))
    assert first.changed and first.network.vni == 1
    again = registry.define(store, net("blue"))
    assert not again.changed and again.network == first.network
    assert registry.define(store, net("red", subnet="10.245.0.0/16")).network.vni == 2
    with pytest.raises(Conflict, match="already exists with host_subnet_len 24, not 26"):
        registry.define(store, net("blue", host_subnet_len=26))
    with pytest.raises(Conflict, match="overlaps cluster network blue"):
        registry.define(store, net("green", subnet="10.244.128.0/17"))
    with pytest.raises(Conflict, match="VNI 2 is used by cluster network red"):
        registry.define(store, net("green", subnet="10.246.0.0/16", vni=2))
    assert registry.define(store, net("gre", driver="ovs-gre", subnet="10.247.0.0/16")).network.vni is None


def test_concurrent_creates_of_overlapping_networks_one_wins() -> None:
    store = MemoryClusterStore()
    errors: list[Exception] = []

    def create(name: str) -> None:
        try:
            registry.define(store, net(name))
        except Conflict as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(f"n{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(registry.all_networks(store)) == 1 and len(errors) == 5


def test_subnets_are_exclusive_remembered_and_expire_with_the_lease() -> None:
    store = MemoryClusterStore()
    clock = ManualClock()
    store = MemoryClusterStore(clock)
    registry.define(store, net("blue", subnet="10.244.0.0/22"))  # four /24s
    lease_a = store.grant(10)
    a = leases.claim_subnet(store, "blue", "ha", "192.168.0.1", lease_a)
    assert leases.claim_subnet(store, "blue", "ha", "192.168.0.1", lease_a) == a  # held: the same
    lease_b = store.grant(10)
    b = leases.claim_subnet(store, "blue", "hb", "192.168.0.2", lease_b, preferred=a.subnet)
    assert b.subnet != a.subnet  # the preferred one is taken
    clock.advance(11)  # both leases expire: the records go
    assert registry.host_subnets(store, "blue") == []
    again = leases.claim_subnet(store, "blue", "ha", "192.168.0.1", store.grant(10), preferred=a.subnet)
    assert again.subnet == a.subnet


def test_racing_for_the_last_subnet_one_wins_the_other_gets_a_clear_error() -> None:
    store = MemoryClusterStore()
    registry.define(store, net("blue", subnet="10.244.0.0/23"))  # two /24s
    leases.claim_subnet(store, "blue", "h0", "192.168.0.10", store.grant(10))
    results: dict[str, object] = {}
    barrier = threading.Barrier(2)

    def join(host: str) -> None:
        barrier.wait()
        try:
            results[host] = leases.claim_subnet(store, "blue", host, "192.168.0.20", store.grant(10))
        except Conflict as exc:
            results[host] = exc

    threads = [threading.Thread(target=join, args=(h,)) for h in ("h1", "h2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    errors = [r for r in results.values() if isinstance(r, Conflict)]
    assert len(errors) == 1 and "has no free host subnet: all 2 /24s of 10.244.0.0/23" in str(errors[0])
    subnets = [r.subnet for r, _ in registry.host_subnets(store, "blue")]
    assert sorted(subnets) == ["10.244.0.0/24", "10.244.1.0/24"]


def test_rm_refuses_while_hosts_hold_subnets_and_force_drains() -> None:
    store = MemoryClusterStore()
    registry.define(store, net("blue"))
    lease = store.grant(10)
    rec = leases.claim_subnet(store, "blue", "ha", "192.168.0.1", lease)
    with pytest.raises(Conflict, match=r"used by 1 host\(s\): ha \(10.244"):
        registry.remove(store, "blue")
    with pytest.raises(Conflict, match="draining but hosts still hold subnets"):
        registry.remove(store, "blue", force=True, wait=0)
    assert registry.require(store, "blue").network.state == "draining"
    with pytest.raises(Conflict, match="draining"):
        leases.claim_subnet(store, "blue", "hb", "192.168.0.2", store.grant(10))
    assert leases.release_subnet(store, rec)
    registry.remove(store, "blue", force=True)
    assert registry.load(store, "blue") is None and store.scan(keys.VNIS) == []


def test_a_second_agent_with_the_same_host_id_is_refused() -> None:
    store = MemoryClusterStore()
    first = store.grant(10)
    leases.claim_host(store, HostRecord("h1", "192.168.0.1", first), 10)
    leases.claim_host(store, HostRecord("h1", "192.168.0.1", first), 10)  # its own: fine
    with pytest.raises(Conflict, match="host id h1 is in use by another agent"):
        leases.claim_host(store, HostRecord("h1", "192.168.0.9", store.grant(10)), 10)


def test_next_free_prefers_then_spreads() -> None:
    blue = net("blue", subnet="10.244.0.0/22")
    assert leases.next_free(blue, set(), "h", preferred="10.244.2.0/24") == "10.244.2.0/24"
    assert leases.next_free(blue, set(), "h", preferred="10.9.0.0/24") != "10.9.0.0/24"
    every = {leases.subnet_at(blue, i) for i in range(4)}
    assert leases.next_free(blue, every, "h") is None
    assert leases.next_free(blue, every - {"10.244.3.0/24"}, "h") == "10.244.3.0/24"

"""Faults of the control plane on a real etcd: racing joins, an unreachable store at join, a
host that dies for real (TTL), and no duplicate subnet or address under concurrent joins and
connects."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cluster.topo import Hosts, guest_ip, own_client, wait_for
from tests.conftest import Namespaces, ping, sh, snapshot
from wirework.cluster import registry
from wirework.cluster.model import validate_cluster_network
from wirework.errors import Conflict, StoreUnavailable


@pytest.fixture
def hosts(netns: Namespaces, state_dir: str, etcd_store: Any) -> Iterator[Hosts]:
    made = Hosts(netns, state_dir, store=etcd_store)
    yield made
    made.close()


def own_store(etcd_server: Any, etcd_store: Any) -> Any:
    """Each host talks to etcd through its own client, as separate machines would."""
    return own_client(etcd_server.url, etcd_store.prefix)


def test_two_hosts_race_for_the_last_subnet_one_wins_the_other_changes_nothing(
        hosts: Hosts, etcd_server: Any, etcd_store: Any) -> None:
    registry.define(hosts.store, validate_cluster_network("tiny", driver="vxlan", subnet="10.248.0.0/23"))
    hosts.add("h0")
    hosts.agent("h0").start()  # one of the two /24s is gone
    for label in ("h1", "h2"):
        hosts.add(label)
    before = {label: snapshot(hosts.names[label]) for label in ("h1", "h2")}
    agents = {label: hosts.agent(label, own_store(etcd_server, etcd_store)) for label in ("h1", "h2")}
    outcome: dict[str, Any] = {}
    barrier = threading.Barrier(2)

    def start(label: str) -> None:
        barrier.wait()
        try:
            agents[label].start()
            outcome[label] = "joined"
        except Conflict as exc:
            outcome[label] = exc

    threads = [threading.Thread(target=start, args=(label,)) for label in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    lost = [label for label, result in outcome.items() if isinstance(result, Conflict)]
    assert sorted(outcome.values(), key=str).count("joined") == 1 and len(lost) == 1
    assert "cluster network tiny has no free host subnet: all 2 /24s of 10.248.0.0/23" in str(outcome[lost[0]])
    loser = lost[0]
    hosts.agents.pop(loser)
    assert snapshot(hosts.names[loser]) == before[loser]  # not a device, route or rule made
    assert hosts.store.get(f"cluster/host/{hosts.names[loser]}") is None  # its lease was revoked
    assert len(registry.host_subnets(hosts.store, "tiny")) == 2


def test_an_unreachable_store_at_join_is_a_clear_error_and_nothing_is_made(hosts: Hosts, netns: Namespaces) -> None:
    hosts.add("h1")
    before = snapshot(hosts.names["h1"])
    nowhere = own_client("etcd://127.0.0.1:9", "/x/")  # nothing listens on the discard port
    with pytest.raises(StoreUnavailable, match="127.0.0.1:9"):
        hosts.agent("h1", nowhere).start()
    assert snapshot(hosts.names["h1"]) == before
    assert hosts.sessions["h1"].store.scan("cluster/") == []


def test_a_dead_host_is_dropped_everywhere_after_its_ttl(hosts: Hosts) -> None:
    registry.define(hosts.store, validate_cluster_network("blue", driver="vxlan", subnet="10.244.0.0/16"))
    for label in ("h1", "h2"):
        hosts.add(label)
        hosts.agent(label, ttl=2).start()
    hosts.settle()
    gone = hosts.agents["h2"].mine["blue"].subnet
    h1 = hosts.names["h1"]
    assert gone in sh("ip", "route", "show", "proto", "87", ns=h1)
    hosts.agents.pop("h2").stop()  # stops renewing: the host is dead as far as etcd knows
    wait_for("the dead host's route to go", lambda: gone not in sh("ip", "route", "show", "proto", "87", ns=h1),
             timeout=15, step=hosts.settle)
    assert "dst 10.97.0.2" not in sh("bridge", "fdb", "show", "dev", "wwx-blue", ns=h1)


def test_concurrent_joins_and_connects_never_duplicate_a_subnet_or_an_address(
        hosts: Hosts, netns: Namespaces, etcd_server: Any, etcd_store: Any) -> None:
    registry.define(hosts.store, validate_cluster_network("crowd", driver="vxlan", subnet="10.249.0.0/24",
                                                          host_subnet_len=27))  # 8 subnets for 6 hosts
    labels = [f"h{i}" for i in range(6)]
    for label in labels:
        hosts.add(label)
    guests = {label: [netns(f"g{label}{j}") for j in range(3)] for label in labels}
    agents = {label: hosts.agent(label, own_store(etcd_server, etcd_store)) for label in labels}
    errors: list[BaseException] = []

    def run(fn: Any) -> None:
        try:
            fn()
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    def each(targets: list[Any]) -> None:
        threads = [threading.Thread(target=run, args=(t,)) for t in targets]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)

    each([agents[label].start for label in labels])
    assert errors == []
    each([_connector(hosts, label, g) for label in labels for g in guests[label]])
    assert errors == []
    subnets = {label: ipaddress.ip_network(agents[label].mine["crowd"].subnet) for label in labels}
    assert len(set(subnets.values())) == 6
    assert not any(a.overlaps(b) for a in subnets.values() for b in subnets.values() if a is not b)
    addresses = [(label, ipaddress.ip_address(guest_ip(g))) for label in labels for g in guests[label]]
    assert len({ip for _, ip in addresses}) == len(addresses) == 18
    assert all(ip in subnets[label] for label, ip in addresses)


def _connector(hosts: Hosts, label: str, guest: str) -> Any:
    def connect() -> None:
        from wirework.api import Wirework

        with Wirework(netns=hosts.names[label], state_dir=f"{hosts.state_dir}/{label}") as ww:
            ww.connect("crowd", f"/run/netns/{guest}")

    return connect


def test_one_of_three_etcd_members_killed_changes_nothing(hosts: Hosts, netns: Namespaces,
                                                          etcd_cluster3: Any) -> None:
    cluster = etcd_cluster3
    client = {label: own_client(cluster.url, "/wwc3/", timeout="2") for label in ("admin", "h1", "h2", "h3")}
    registry.define(client["admin"], validate_cluster_network("blue", driver="vxlan", subnet="10.244.0.0/16"))
    for label in ("h1", "h2"):
        hosts.add(label)
        hosts.agent(label, client[label]).start()
    hosts.settle(["h1", "h2"])
    cluster.kill(0)  # the member every client talks to first
    hosts.add("h3")
    hosts.agent("h3", client["h3"]).start()  # a host joins through the other two members
    s3 = hosts.agents["h3"].mine["blue"].subnet
    h1 = hosts.names["h1"]
    wait_for("h3's route on h1", lambda: s3 in sh("ip", "route", "show", "proto", "87", ns=h1), step=hosts.settle)
    g1, g3 = netns("g1"), netns("g3")
    hosts.sessions["h1"].connect("blue", f"/run/netns/{g1}")
    hosts.sessions["h3"].connect("blue", f"/run/netns/{g3}")
    assert any(ping(g1, guest_ip(g3)) for _ in range(5))
    assert {r.host for r, _ in registry.host_subnets(client["admin"], "blue")} == set(hosts.names.values())
    for store in client.values():
        store.close()

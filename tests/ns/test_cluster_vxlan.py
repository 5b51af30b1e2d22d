"""Cluster networks, vxlan data plane: three namespace "hosts" on one underlay, an agent each
(driven in-process), guests connected through the ordinary connect path, traffic across."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cluster.topo import Hosts, guest_ip, memory_store, source_seen, wait_for
from tests.conftest import Namespaces, ping, sh
from wirework.cluster import registry
from wirework.cluster.model import validate_cluster_network
from wirework.errors import Conflict


@pytest.fixture
def hosts(netns: Namespaces, state_dir: str) -> Iterator[Hosts]:
    made = Hosts(netns, state_dir)
    yield made
    made.close()


def test_three_hosts_join_converge_and_a_dead_host_is_dropped(hosts: Hosts, netns: Namespaces) -> None:
    store, clock = memory_store()
    registry.define(store, validate_cluster_network("blue", driver="vxlan", subnet="10.244.0.0/16"))
    for label in ("h1", "h2", "h3"):
        hosts.add(label)
        hosts.agent(label, store).start()
    hosts.settle()
    subnets = {label: hosts.agents[label].mine["blue"].subnet for label in hosts.agents}
    assert len(set(subnets.values())) == 3
    h1 = hosts.names["h1"]
    detail = sh("ip", "-d", "link", "show", "wwx-blue", ns=h1)
    assert "vxlan id 1 local 10.97.0.1 dev eth0" in detail and "nolearning" in detail and "mtu 1450" in detail
    fdb = sh("bridge", "fdb", "show", "dev", "wwx-blue", ns=h1)
    assert "dst 10.97.0.2 self permanent" in fdb and "dst 10.97.0.3 self permanent" in fdb
    assert "00:00:00:00:00:00" not in fdb  # nothing is flooded
    routes = sh("ip", "route", "show", "proto", "87", ns=h1)
    peer2 = ipaddress.ip_network(subnets["h2"])
    assert f"{subnets['h2']} via {peer2.network_address} dev wwx-blue onlink" in routes
    assert "PERMANENT" in sh("ip", "neigh", "show", "dev", "wwx-blue", ns=h1)

    guests = {}
    for label in ("h1", "h2", "h3"):
        guests[label] = netns(f"g{label}")
        ep = hosts.sessions[label].connect("blue", f"/run/netns/{guests[label]}").endpoint
        assert ipaddress.ip_address(ep.address) in ipaddress.ip_network(subnets[label])
    assert "mtu 1450" in sh("ip", "link", "show", "eth0", ns=guests["h1"])
    assert "default via" in sh("ip", "route", ns=guests["h1"])
    g2, g3 = guest_ip(guests["h2"]), guest_ip(guests["h3"])
    assert any(ping(guests["h1"], g2) for _ in range(3))
    assert source_seen(guests["h2"], guests["h1"], g2) == guest_ip(guests["h1"])  # not masqueraded inside
    assert ping(guests["h1"], "10.97.0.254")  # masqueraded beyond: the router has no route back to 10.244/16
    assert ping(guests["h1"], g3)
    assert ping(guests["h1"], g2, size=1450 - 28, dont_fragment=True)
    assert not ping(guests["h1"], g2, size=1451 - 28, dont_fragment=True)
    # The traffic really crossed the tunnel: h1's VXLAN device sent packets.
    stats = sh("ip", "-s", "link", "show", "wwx-blue", ns=h1)
    assert int(stats.split("TX:")[1].splitlines()[1].split()[1]) > 0

    # disconnect releases the guest's address (its host's IPAM, in its own store).
    assert hosts.sessions["h3"].network_inspect("blue")["leases"] != []
    hosts.sessions["h3"].disconnect("blue", f"/run/netns/{guests['h3']}")
    assert hosts.sessions["h3"].network_inspect("blue")["leases"] == []
    # h3 dies (its agent stops renewing): once its lease expires, the others drop its entries.
    hosts.agents.pop("h3").stop()
    clock.advance(11)
    hosts.settle(["h1", "h2"])
    assert subnets["h3"] not in sh("ip", "route", "show", "proto", "87", ns=h1)
    assert "dst 10.97.0.3" not in sh("bridge", "fdb", "show", "dev", "wwx-blue", ns=h1)
    assert ping(guests["h1"], g2)


def test_agent_restarts_keep_the_subnet_and_an_outage_changes_nothing(hosts: Hosts, netns: Namespaces) -> None:
    store, clock = memory_store()
    registry.define(store, validate_cluster_network("blue", driver="vxlan", subnet="10.244.0.0/16"))
    for label in ("h1", "h2"):
        hosts.add(label)
        hosts.agent(label, store).start()
    hosts.settle()
    held = hosts.agents["h1"].mine["blue"].subnet
    g1, g2 = netns("g1"), netns("g2")
    hosts.sessions["h1"].connect("blue", f"/run/netns/{g1}")
    hosts.sessions["h2"].connect("blue", f"/run/netns/{g2}")
    target = guest_ip(g2)
    assert any(ping(g1, target) for _ in range(3))

    # Killed and restarted within the TTL: the same lease, the same subnet, no kernel change.
    before = sh("ip", "-d", "link", "show", "wwx-blue", ns=hosts.names["h1"])
    hosts.agents["h1"].stop()
    again = hosts.agent("h1", store)
    again.start()
    assert again.mine["blue"].subnet == held and again.sync.converged == 0
    assert sh("ip", "-d", "link", "show", "wwx-blue", ns=hosts.names["h1"]) == before

    # Down for longer than the TTL: the host keeps forwarding; its records expire meanwhile.
    hosts.agents.pop("h1").stop()
    clock.advance(11)
    assert ping(g1, target)
    restarted = hosts.agent("h1", store)
    restarted.start()  # a new lease; the remembered subnet is still free: the same one
    assert restarted.mine["blue"].subnet == held
    hosts.settle()
    assert ping(g1, target)

    # The store goes away: steps go on without error and without touching the kernel.
    store.fail()
    hosts.settle()
    assert ping(g1, target)
    assert any("lost the cluster store" in line for line in hosts.logs["h1"])
    clock.advance(11)  # leases expire while the store is away (as etcd would, seen on its return)
    store.heal()
    hosts.settle(rounds=4)
    assert hosts.agents["h1"].mine["blue"].subnet == held and hosts.agents["h2"].store_ok
    assert {r.host for r, _ in registry.host_subnets(store, "blue")} == {hosts.names["h1"], hosts.names["h2"]}
    assert ping(g1, target)

    # A compacted watch: everything is re-read.
    store.compact(store.revision())
    hosts.settle()
    assert hosts.agents["h1"].watch is not None and ping(g1, target)


def test_on_a_real_etcd_a_joining_host_appears_everywhere_and_a_leaving_one_goes(hosts: Hosts, netns: Namespaces,
                                                                                  etcd_store: Any) -> None:
    cluster_store = etcd_store
    registry.define(cluster_store, validate_cluster_network("blue", driver="vxlan", subnet="10.244.0.0/16"))
    for label in ("h1", "h2"):
        hosts.add(label)
        hosts.agent(label, cluster_store).start()
    hosts.settle()
    h1 = hosts.names["h1"]
    hosts.add("h3")
    hosts.agent("h3", cluster_store).start()
    s3 = hosts.agents["h3"].mine["blue"].subnet
    wait_for("h3's route on h1", lambda: s3 in sh("ip", "route", "show", "proto", "87", ns=h1), step=hosts.settle)
    g1, g3 = netns("g1"), netns("g3")
    hosts.sessions["h1"].connect("blue", f"/run/netns/{g1}")
    hosts.sessions["h3"].connect("blue", f"/run/netns/{g3}")
    assert any(ping(g1, guest_ip(g3)) for _ in range(3))
    # A network defined while the agents run: every host joins it.
    registry.define(cluster_store, validate_cluster_network("red", driver="host-gw", subnet="10.245.0.0/16"))
    wait_for("every host in red", lambda: len(registry.host_subnets(cluster_store, "red")) == 3, step=hosts.settle)
    assert "ww-red" in sh("ip", "link", ns=h1)
    hosts.agents.pop("h3").stop(leave=True)  # leaves for good: its guest, device and records go now
    wait_for("h3's route gone from h1", lambda: s3 not in sh("ip", "route", "show", "proto", "87", ns=h1),
             step=hosts.settle)
    assert "wwx-blue" not in sh("ip", "link", ns=hosts.names["h3"]) and "ww-red" not in sh("ip", "link", ns=hosts.names["h3"])
    assert "eth0" not in sh("ip", "link", ns=g3)
    assert {r.host for r, _ in registry.host_subnets(cluster_store, "blue")} == {h1, hosts.names["h2"]}


def test_rm_force_drains_every_host_and_removes_the_network(hosts: Hosts, netns: Namespaces) -> None:
    store = hosts.store = memory_store()[0]
    registry.define(store, validate_cluster_network("blue", driver="vxlan", subnet="10.244.0.0/16"))
    for label in ("h1", "h2"):
        hosts.add(label)
        hosts.agent(label).start()
    g1 = netns("g1")
    hosts.sessions["h1"].connect("blue", f"/run/netns/{g1}")
    with pytest.raises(Conflict, match=r"used by 2 host\(s\)"):
        hosts.sessions["h1"].cluster_network_rm("blue")
    with pytest.raises(Conflict, match="a cluster network .* that this host's agent manages"):
        hosts.sessions["h1"].network_rm("blue")
    done: list[object] = []
    remover = threading.Thread(target=lambda: done.append(hosts.sessions["h2"].cluster_network_rm("blue", force=True)))
    remover.start()
    wait_for("the network to be drained and removed", lambda: bool(done), step=hosts.settle)
    remover.join()
    assert registry.load(store, "blue") is None and store.scan("cluster/subnet/") == []
    for label in ("h1", "h2"):
        assert "wwx-blue" not in sh("ip", "link", ns=hosts.names[label])
        assert "ww-blue" not in sh("ip", "link", ns=hosts.names[label])
        assert hosts.sessions[label].network_ls() == []
    assert "eth0" not in sh("ip", "link", ns=g1)


def test_a_subnet_taken_while_its_host_was_away_is_never_kept(hosts: Hosts, netns: Namespaces) -> None:
    store = hosts.store = memory_store()[0]
    registry.define(store, validate_cluster_network("tiny", driver="vxlan", subnet="10.248.0.0/23"))  # two /24s
    for label in ("h1", "h2"):
        hosts.add(label)
        hosts.agent(label).start()
    g1 = netns("g1")
    hosts.sessions["h1"].connect("tiny", f"/run/netns/{g1}")
    lost = hosts.agents["h1"].mine["tiny"].subnet
    away = hosts.agents.pop("h1")
    away.stop()
    store.revoke(away.lease)  # h1 stays away past its TTL: its lease expires, its records go
    hosts.add("h3")
    hosts.agent("h3").start()
    assert hosts.agents["h3"].mine["tiny"].subnet == lost
    with pytest.raises(Conflict, match="has no free host subnet"):
        hosts.agent("h1").start()  # comes back: no subnet left for it
    assert "eth0" not in sh("ip", "link", ns=g1)  # its guest's address belongs to h3 now: disconnected
    assert "ww-tiny" not in sh("ip", "link", ns=hosts.names["h1"])

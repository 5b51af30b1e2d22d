"""Cluster networks, vxlan data plane: three namespace "hosts" on one underlay, an agent each
(driven in-process), guests connected through the ordinary connect path, traffic across."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest

from tests.cluster.memstore import MemStore
from tests.cluster.topo import Hosts, guest_ip
from tests.conftest import Namespaces, ping, sh
from wirework.cluster import registry
from wirework.cluster.model import validate_cluster_network


@pytest.fixture
def hosts(netns: Namespaces, state_dir: str) -> Iterator[Hosts]:
    made = Hosts(netns, state_dir)
    yield made
    made.close()


def test_three_hosts_join_converge_and_a_dead_host_is_dropped(hosts: Hosts, netns: Namespaces) -> None:
    store = MemStore()
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
    assert ping(guests["h1"], g3)
    assert ping(guests["h1"], g2, size=1450 - 28, dont_fragment=True)
    assert not ping(guests["h1"], g2, size=1451 - 28, dont_fragment=True)
    # The traffic really crossed the tunnel: h1's VXLAN device sent packets.
    stats = sh("ip", "-s", "link", "show", "wwx-blue", ns=h1)
    assert int(stats.split("TX:")[1].splitlines()[1].split()[1]) > 0

    # h3 dies (its agent stops renewing): once its lease expires, the others drop its entries.
    hosts.agents.pop("h3").stop()
    store.advance(11)
    hosts.settle(["h1", "h2"])
    assert subnets["h3"] not in sh("ip", "route", "show", "proto", "87", ns=h1)
    assert "dst 10.97.0.3" not in sh("bridge", "fdb", "show", "dev", "wwx-blue", ns=h1)
    assert ping(guests["h1"], g2)

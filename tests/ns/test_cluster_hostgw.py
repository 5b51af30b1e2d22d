"""Cluster networks, host-gw data plane: plain routes to peers on one segment; a peer behind a
router is refused with the reason (in the log and in the host's published status)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster.topo import Hosts, guest_ip, memory_store, source_seen
from tests.conftest import Namespaces, ping, sh
from wirework.cluster import registry
from wirework.cluster.model import validate_cluster_network


@pytest.fixture
def hosts(netns: Namespaces, state_dir: str) -> Iterator[Hosts]:
    made = Hosts(netns, state_dir)
    yield made
    made.close()


def test_routes_to_peers_on_the_segment_and_a_routed_peer_is_refused(hosts: Hosts, netns: Namespaces) -> None:
    store = hosts.store = memory_store()[0]
    registry.define(store, validate_cluster_network("green", driver="host-gw", subnet="10.245.0.0/16"))
    hosts.add("h1")
    hosts.add("h2")
    hosts.add("h4", segment="b")  # behind the switch namespace's routing: not on-link
    for label in ("h1", "h2", "h4"):
        hosts.agent(label).start()
    hosts.settle()
    subnet = {label: hosts.agents[label].mine["green"].subnet for label in hosts.agents}
    h1 = hosts.names["h1"]
    routes = sh("ip", "route", "show", "proto", "87", ns=h1)
    assert f"{subnet['h2']} via {hosts.ips['h2']} dev eth0" in routes
    assert subnet["h4"] not in routes
    assert any("is not on-link: the route to 10.96.0.3 goes via the router 10.97.0.254" in line
               for line in hosts.logs["h1"])
    rows = {r["host"]: r for r in hosts.sessions["h1"].cluster_hosts("green")}
    assert rows[h1]["health"] == "degraded" and "not on-link" in rows[h1]["status"]
    assert rows[hosts.names["h2"]]["health"] == "degraded"  # h2 cannot reach h4 either
    g1, g2 = netns("g1"), netns("g2")
    hosts.sessions["h1"].connect("green", f"/run/netns/{g1}")
    hosts.sessions["h2"].connect("green", f"/run/netns/{g2}")
    assert "mtu 1500" in sh("ip", "link", "show", "eth0", ns=g1)
    target = guest_ip(g2)
    assert any(ping(g1, target) for _ in range(3))
    # Not masqueraded: g2 sees g1's own address (the firewall never NATs inside the cluster).
    assert source_seen(g2, g1, target) == guest_ip(g1)
    # h2 leaves: h1's route to it goes, nothing else changes.
    hosts.agents.pop("h2").stop(leave=True)
    hosts.settle(["h1", "h4"])
    assert subnet["h2"] not in sh("ip", "route", "show", "proto", "87", ns=h1)

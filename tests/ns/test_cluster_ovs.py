"""Cluster networks over Open vSwitch tunnels (the seed's S10 layout, automated): three hosts,
each with its own private OVS (userspace datapath), a full mesh of protected tunnel ports."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import pytest

from tests.cluster.topo import Hosts, guest_ip, memory_store
from tests.conftest import Namespaces, ping, sh
from wirework.cluster import registry
from wirework.cluster.model import validate_cluster_network
from wirework.kernel.ovs_instance import OvsInstance, default_rundir, start_instance


@pytest.fixture
def hosts(netns: Namespaces, state_dir: str) -> Iterator[Hosts]:
    instances: list[OvsInstance] = []
    made = Hosts(netns, state_dir, store=memory_store()[0], on_add=lambda ns: instances.append(start_instance(ns)))
    yield made
    made.close()
    for inst in instances:
        inst.stop()
        shutil.rmtree(default_rundir(inst.netns or ""), ignore_errors=True)


@pytest.mark.parametrize(("driver", "mtu", "port"), [("ovs-gre", 1462, "gre"), ("ovs-vxlan", 1450, "vxl")])
def test_guests_reach_each_other_across_the_tunnel_mesh(hosts: Hosts, netns: Namespaces, driver: str, mtu: int,
                                                         port: str) -> None:
    registry.define(hosts.store, validate_cluster_network("orange", driver=driver, subnet="10.246.0.0/16"))
    for label in ("h1", "h2", "h3"):
        hosts.add(label)
        hosts.agent(label).start()
    hosts.settle()
    h1 = hosts.names["h1"]
    ovs = hosts.sessions["h1"].host.ovs
    ports = [p for p in ovs.ports("wwo-orange") if p.startswith(port)]
    assert len(ports) == 2
    assert all(ovs.vsctl("get", "port", p, "protected").strip() == "true" for p in ports)
    assert "master ww-orange" in sh("ip", "link", "show", "wwo-orange", ns=h1)
    assert "10.97.0.1/24" in sh("ip", "-o", "addr", "show", "ul-eth0", ns=h1)  # moved for the userspace tunnels
    guests = {label: netns(f"g{label}") for label in ("h1", "h2", "h3")}
    for label, g in guests.items():
        hosts.sessions[label].connect("orange", f"/run/netns/{g}")
    g1, g2, g3 = guests["h1"], guest_ip(guests["h2"]), guest_ip(guests["h3"])
    assert f"mtu {mtu}" in sh("ip", "link", "show", "eth0", ns=g1)
    assert any(ping(g1, g2) for _ in range(8))  # OVS learns the underlay's route first
    assert any(ping(g1, g3) for _ in range(8))
    assert ping(g1, g2, size=mtu - 28, dont_fragment=True)
    assert not ping(g1, g2, size=mtu - 27, dont_fragment=True)
    sh("iperf3", "-s", "-1", "-D", "-p", "5302", ns=guests["h2"])
    report = sh("iperf3", "-c", g2, "-p", "5302", "-t", "1", "-J", ns=g1)
    assert json.loads(report)["end"]["sum_received"]["bytes"] > 1_000_000
    # The packets crossed a tunnel: the datapath encapsulated them (OVSDB's counters lag by seconds).
    ctl = f"{default_rundir(h1)}/ovs-vswitchd.ctl"
    assert "tnl_push(" in sh("ovs-appctl", "-t", ctl, "dpctl/dump-flows")
    # h3 leaves: its tunnel ports and routes go on the others.
    hosts.agents.pop("h3").stop(leave=True)
    hosts.settle(["h1", "h2"])
    assert len([p for p in ovs.ports("wwo-orange") if p.startswith(port)]) == 1
    assert ping(g1, g2)

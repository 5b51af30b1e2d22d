"""A lab's cluster networks: what the file may say (with lines), the plan, the picture."""

from __future__ import annotations

import json

import pytest

from tests.unit.test_lab_topology import problems
from wirework.api import Wirework
from wirework.lab.build import LabFacts, plan_up
from wirework.lab.graph import dot, text
from wirework.lab.loader import parse_text
from wirework.lab.resolve import LabNames
from wirework.lab.topology import build
from wirework.store.etcd_members import cluster_to_json, plan_cluster

LAB = """\
name: c
etcd: {}
networks:
  blue: {driver: vxlan, subnet: 10.244.0.0/16}
hosts:
  h1:
    agent: {}
    guests:
      c1: {connect: blue}
  h2:
    agent: {lease_ttl: 5s}
    guests:
      c2: {connect: [blue]}
segments:
  lan:
    members:
      h1: 192.168.9.1/24
      h2: 192.168.9.2/24
"""


def test_a_cluster_lab_is_valid_and_plans_define_agents_then_connects() -> None:
    topo = build(parse_text(LAB, "c.yaml"), Wirework)
    assert topo.networks["blue"]["driver"] == "vxlan" and topo.hosts["h2"].agent == {"lease_ttl": "5s"}
    assert topo.guests["c2"].connect == ("blue",)
    layout = cluster_to_json(plan_cluster("lab-c", members=1, ports=[23101, 23102]))
    plan = plan_up(topo, LabNames("c", "/tmp/x"), LabFacts(etcd_layout=layout))
    kinds = [s.kind for s in plan.steps]
    assert kinds.index("lab_start_etcd") < kinds.index("lab_define_cluster_networks") < kinds.index("lab_start_agent")
    agents = [s for s in plan.steps if s.kind == "lab_start_agent"]
    assert len(agents) == 2 and "--lease-ttl" in agents[1].argv and "5s" in agents[1].argv
    assert agents[0].ns == "/proc/self/ns/net"  # the etcd answers on this machine's loopback
    assert "--public-ip" in agents[0].argv and "192.168.9.1" in agents[0].argv
    connects = [json.loads(s.args_json) for s in plan.steps if s.kind == "lab_host_setup"]
    assert {"guest": "netns:wwl-c-c1", "guest_name": "c1", "network": "blue", "ifname": "eth0"} in connects
    assert kinds.index("lab_start_agent") < kinds.index("lab_host_setup")


def test_agents_run_inside_their_hosts_when_the_etcd_lives_in_one() -> None:
    topo = build(parse_text(LAB.replace("etcd: {}", "etcd: {host: h1}"), "c.yaml"), Wirework)
    layout = cluster_to_json(plan_cluster("lab-c", members=1, host="192.168.9.1", netns="wwl-c-h1", ports=[2379, 2380]))
    steps = plan_up(topo, LabNames("c", "/tmp/x"), LabFacts(etcd_layout=layout)).steps
    assert [s.ns for s in steps if s.kind == "lab_start_agent"] == ["/run/netns/wwl-c-h1", "/run/netns/wwl-c-h2"]
    assert next(s for s in steps if s.kind == "lab_define_cluster_networks").ns == "/run/netns/wwl-c-h1"


@pytest.mark.parametrize(("old", "new", "words"), [
    ("etcd: {}\n", "", "cluster networks and agents need the lab's etcd"),
    ("{connect: blue}", "{connect: red}", "guest c1 connects to 'red', which is not under networks: (defined: blue)"),
    ("  h1:\n    agent: {}\n", "  h1:\n", "its host h1 runs no agent: add 'agent: {}' to h1"),
    ("subnet: 10.244.0.0/16}", "subnet: 10.244.0.0/16, host_subnet_len: 12}", "does not fit network 10.244.0.0/16"),
    ("driver: vxlan", "driver: ovs-gre", "host h1 joins Open vSwitch cluster networks: add 'ovs: true'"),
    ("driver: vxlan", "driver: weave", "is not one of ['vxlan', 'host-gw', 'ovs-vxlan', 'ovs-gre']"),
])
def test_bad_cluster_labs_are_refused_with_the_reason(old: str, new: str, words: str) -> None:
    assert old in LAB
    found = problems(LAB.replace(old, new))
    assert any(words in msg for _, msg in found), found


def test_the_picture_shows_the_network_across_the_agents() -> None:
    topo = build(parse_text(LAB, "c.yaml"), Wirework)
    graph = dot(topo)
    assert '"cnet:blue" [shape=doubleoctagon' in graph and '"h1:agent" -- "cnet:blue"' in graph
    assert '"guest:c2" -- "cnet:blue"' in graph
    assert "cluster network blue: vxlan 10.244.0.0/16 (/24 per host; agents on h1, h2)" in text(topo)

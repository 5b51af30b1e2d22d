"""The lab's `etcd:` node: schema and semantic errors with their line, the plan and the store URL."""

from __future__ import annotations

import json

import pytest

from tests.unit.test_lab_topology import BASE, problems
from wirework.api import Wirework
from wirework.lab.build import LabFacts, plan_up
from wirework.lab.etcd import StartEtcd, url_of
from wirework.lab.loader import parse_text
from wirework.lab.resolve import LabNames
from wirework.lab.topology import build
from wirework.store.etcd_members import cluster_to_json, plan_cluster


@pytest.mark.parametrize(("etcd", "line", "words"), [
    ("etcd: {members: 2}", 17, "etcd/members: 2 is not one of [1, 3]"),
    ("etcd: {members: 3, host: h9}", 17, "etcd: host 'h9' is not a host of this lab"),
    ("etcd: {members: 1, where: h1}", 17, "Additional properties are not allowed ('where'"),
])
def test_bad_etcd_is_reported_at_its_line(etcd: str, line: int, words: str) -> None:
    found = problems(BASE + etcd + "\n")
    assert any(at == line and words in text for at, text in found), found


def test_etcd_host_needs_a_segment_address() -> None:
    text = BASE.replace("  h2:\n", "  h3: {}\n  h2:\n") + "etcd: {host: h3}\n"
    assert any("h3 has no segment address" in msg for _, msg in problems(text))


def _layout(members: int = 3) -> str:
    return cluster_to_json(plan_cluster("lab-t", members=members, ports=[23001 + i for i in range(2 * members)]))


def test_plan_starts_etcd_before_setup_and_hands_its_url_to_items() -> None:
    text = BASE.replace("      - bridge: {name: cbr0, address: 10.1.2.1/24}",
                        "      - bridge: {name: cbr0, address: 10.1.2.1/24}\n      - network: {name: n1, store: etcd}")
    topo = build(parse_text(text + "etcd: {members: 3}\n", "t.yaml"), None)
    assert topo.etcd is not None and topo.etcd.members == 3 and topo.etcd.host is None
    plan = plan_up(topo, LabNames("t", "/tmp/x"), LabFacts(etcd_layout=_layout()))
    kinds = [s.kind for s in plan.steps]
    start = kinds.index("lab_start_etcd")
    assert start < kinds.index("lab_host_setup")
    url = url_of(_layout())
    assert url == "etcd://127.0.0.1:23001,127.0.0.1:23003,127.0.0.1:23005"
    setups = [json.loads(s.args_json) for s in plan.steps if s.kind == "lab_host_setup"]
    assert {"name": "n1", "store": url} in setups
    assert isinstance(plan.steps[start], StartEtcd) and url in plan.steps[start].describe()
    running = plan_up(topo, LabNames("t", "/tmp/x"), LabFacts(etcd_layout=_layout(), etcd_running=True))
    assert "lab_start_etcd" not in [s.kind for s in running.steps]


def test_lab_without_etcd_plans_none() -> None:
    topo = build(parse_text(BASE, "t.yaml"), Wirework)
    assert topo.etcd is None
    assert "lab_start_etcd" not in [s.kind for s in plan_up(topo, LabNames("t", "/tmp/x"), LabFacts()).steps]

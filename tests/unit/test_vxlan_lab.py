"""The lab's `vxlan` kind: validation with lines, peer names resolved, apply/remove on the fake host."""

from __future__ import annotations

import json

import pytest

from wirework.api import Wirework
from wirework.lab import kinds
from wirework.lab.build import LabFacts, plan_up
from wirework.lab.loader import LabFileError, parse_text
from wirework.lab.model import Item
from wirework.lab.resolve import LabNames
from wirework.lab.steps import HostSetup
from wirework.lab.topology import build
from wirework.model.addr import parse_cidr
from wirework.model.host import FdbEntry
from wirework.plan.executor import Executor
from wirework.plan.steps import Plan, Step
from wirework.testing import FakeHost

LAB = """\
name: vx
hosts:
  h1:
    setup:
      - bridge: {name: br0}
      - vxlan: {name: vx42, vni: 42, bridge: br0, local: 10.0.0.1, peers: [h2, 10.0.0.3]}
    guests:
      c1: {attach: {bridge: br0, ip: 10.244.0.1/24}}
  h2:
    setup:
      - vxlan: {name: vx42, vni: 42, bridge: br0, local: 10.0.0.2, peers: all}
    guests:
      c2: {attach: {bridge: br0, ip: 10.244.0.2/24}}
  h3:
    setup:
      - vxlan: {name: vx42, vni: 42, bridge: br0, local: 10.0.0.3, peers: [h1, h2]}
segments:
  lan:
    subnet: 10.0.0.0/24
    members: {h1: 10.0.0.1/24, h2: 10.0.0.2/24, h3: 10.0.0.3/24}
  other:
    subnet: 10.9.0.0/24
    members: {h2: 10.9.0.2/24}
"""


def problems(text: str) -> list[tuple[int, str]]:
    with pytest.raises(LabFileError) as info:
        build(parse_text(text, "t.yaml"), Wirework)
    return [(line, msg) for _, line, msg in info.value.problems]


def test_valid_and_peers_resolve_to_segment_addresses() -> None:
    topo = build(parse_text(LAB, "t.yaml"), Wirework)
    plan = plan_up(topo, LabNames("vx", "/tmp/x"), LabFacts())
    setups = {(s.host_name, s.item_kind): json.loads(s.args_json) for s in plan.steps if isinstance(s, HostSetup)}
    assert setups[("h1", "vxlan")]["peers"] == ["10.0.0.2", "10.0.0.3"]
    assert setups[("h2", "vxlan")]["peers"] == ["10.0.0.1", "10.0.0.3"]  # all: every other host with VNI 42
    assert setups[("h3", "vxlan")]["peers"] == ["10.0.0.1", "10.0.0.2"]  # h2 on lan, not on other
    described = [s.describe() for s in plan.steps if isinstance(s, HostSetup) and s.item_kind == "vxlan"]
    assert described[0] == "on h1: VXLAN vx42 VNI 42 local 10.0.0.1 on bridge br0, peers 10.0.0.2,10.0.0.3"


@pytest.mark.parametrize(("old", "new", "line", "words"), [
    ("peers: [h2, 10.0.0.3]", "peers: [h7, 10.0.0.3]", 6, "peer 'h7' is not a host of this lab"),
    ("peers: [h2, 10.0.0.3]", "peers: [h2, 10.0.0.99]", 6, "peer 10.0.0.99: no host in this lab has that address"),
    ("peers: [h2, 10.0.0.3]", "peers: [h1, h2]", 6, "peer h1 is h1 itself"),
    ("vni: 42, bridge: br0, local: 10.0.0.1", "vni: 0, bridge: br0, local: 10.0.0.1", 6, "minimum of 1"),
    ("vni: 42, bridge: br0, local: 10.0.0.1", "vni: 16777216, bridge: br0, local: 10.0.0.1", 6, "maximum of 16777215"),
    ("{name: vx42, vni: 42, bridge: br0, local: 10.0.0.1", "{name: br0, vni: 42, bridge: br0, local: 10.0.0.1", 6,
     "need two names"),
    ("{name: vx42, vni: 42, bridge: br0, local: 10.0.0.1", "{name: eth0, vni: 42, bridge: br0, local: 10.0.0.1", 6,
     "already has an interface named eth0"),
    ("local: 10.0.0.1, peers", "local: 10.0.0.2, peers", 6, "is not an address of h1"),
])
def test_errors_point_at_the_line(old: str, new: str, line: int, words: str) -> None:
    assert old in LAB
    found = problems(LAB.replace(old, new, 1))
    assert any(ln == line and words in msg for ln, msg in found), found


def test_duplicate_vxlan_names_and_vnis_on_one_host() -> None:
    text = LAB.replace("      - vxlan: {name: vx42, vni: 42, bridge: br0, local: 10.0.0.3, peers: [h1, h2]}\n",
                       "      - vxlan: {name: vx42, vni: 42, bridge: br0, local: 10.0.0.3, peers: [h1, h2]}\n"
                       "      - vxlan: {name: vx42, vni: 7, local: 10.0.0.3, peers: [h1]}\n"
                       "      - vxlan: {name: vx43, vni: 42, local: 10.0.0.3, peers: [h1]}\n")
    found = problems(text)
    assert [(ln, m) for ln, m in found if "vx42" in m] == [
        (17, "vxlan vx42 on h3: host h3 already has an interface named vx42"),
        (18, "vxlan vx43 on h3: VNI 42 is already used by vxlan vx42 on this host (line 16)")], found


def test_unknown_keys_and_missing_vni_are_schema_errors() -> None:
    found = problems(LAB.replace("vni: 42, bridge: br0, local: 10.0.0.1", "id: 42, bridge: br0, local: 10.0.0.1"))
    assert any(ln == 6 and "'vni' is a required property" in m for ln, m in found), found


class FakeSession:
    """What a kind needs of a lab host's Wirework session: its host and its executor."""

    def __init__(self, host: FakeHost) -> None:
        self.host = host

    def run_plan(self, plan: Plan) -> list[Step]:
        return Executor(self.host).run(plan)


def test_kind_apply_converge_remove_on_the_fake_host() -> None:
    host = FakeHost()
    host.net._add(None, "eth0", "veth")
    host.net.add_address("eth0", parse_cidr("10.0.0.1/24"))
    before = host.snapshot()
    kind = kinds.get("vxlan")
    item = Item("h1", "vxlan", {"name": "vx42", "vni": 42, "bridge": "br0", "local": "10.0.0.1",
                                "peers": ["10.0.0.2", "10.0.0.3"]}, 6)
    session = FakeSession(host)
    undo = kind.apply(session, item, "lab:vx")
    assert host.net.link("vx42").alias == "wirework:lab:vx"  # type: ignore[union-attr]
    assert host.net.fdb("vx42") == [FdbEntry("00:00:00:00:00:00", "10.0.0.2"), FdbEntry("00:00:00:00:00:00", "10.0.0.3")]
    assert kind.provides(item) == ["vx42", "br0"]
    assert kind.apply(session, item, "lab:vx") is None  # in place: nothing changed
    kind.remove(session, item, undo)
    assert host.state == before

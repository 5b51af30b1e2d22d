"""Lab files: schema and semantic errors point at the line; examples load; plans and graphs render."""

from __future__ import annotations

import glob
import os

import pytest

from wirework.api import Wirework
from wirework.lab import graph
from wirework.lab.build import LabFacts, plan_up
from wirework.lab.check import expand
from wirework.lab.loader import LabFileError, parse_text
from wirework.lab.resolve import LabNames
from wirework.lab.topology import build

EXAMPLES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "..", "examples", "*.yaml")))

BASE = """\
name: t
hosts:
  h1:
    setup:
      - bridge: {name: cbr0, address: 10.1.1.1/24}
    guests:
      c1: {attach: {bridge: cbr0, ip: 10.1.1.2/24, gateway: 10.1.1.1}}
  h2:
    setup:
      - bridge: {name: cbr0, address: 10.1.2.1/24}
segments:
  lan:
    subnet: 192.168.9.0/24
    members:
      h1: 192.168.9.1/24
      h2: 192.168.9.2/24
"""


def problems(text: str) -> list[tuple[int, str]]:
    with pytest.raises(LabFileError) as info:
        build(parse_text(text, "t.yaml"), Wirework)
    return [(line, msg) for _, line, msg in info.value.problems]


def test_base_is_valid() -> None:
    topo = build(parse_text(BASE, "t.yaml"), Wirework)
    assert set(topo.hosts) == {"h1", "h2"} and set(topo.guests) == {"c1"}
    assert topo.segments[0].members[0].ifname == "eth0"


@pytest.mark.parametrize(("old", "new", "line", "words"), [
    ("      h2: 192.168.9.2/24", "      h9: 192.168.9.2/24", 16, "unknown host 'h9'"),
    ("      h2: 192.168.9.2/24", "      h2: 192.168.8.2/24", 16, "outside segment lan"),
    ("10.1.2.1/24}", "10.1.0.1/16}", 10, "overlaps 10.1.1.0/24 of host h1"),
    ("{bridge: cbr0, ip: 10.1.1.2/24", "{bridge: nobr0, ip: 10.1.1.2/24", 7, "sets up no interface 'nobr0'"),
    ("{name: cbr0, address: 10.1.1.1/24}", "{name: averyveryverylongname, address: 10.1.1.1/24}", 5, "averyvery"),
    ("ip: 10.1.1.2/24", "ip: 10.1.1.1/24", 7, "already used by h1"),
    ("gateway: 10.1.1.1}", "gateway: 10.9.1.1}", 7, "outside the subnet"),
])
def test_semantic_errors_point_at_the_line(old: str, new: str, line: int, words: str) -> None:
    assert old in BASE
    found = problems(BASE.replace(old, new))
    assert any(ln == line and words in msg for ln, msg in found) or any(words in msg for _, msg in found), found
    assert any(ln == line for ln, _ in found), found


def test_duplicate_host_is_reported_with_both_lines() -> None:
    found = problems(BASE + "hosts:\n  h3: {}\n")
    assert found and found[0][0] == 17 and "duplicate key 'hosts'" in found[0][1]
    text = BASE.replace("  h2:\n", "  h1:\n", 1)
    assert any("duplicate key 'h1' (first on line 3)" in m for _, m in problems(text))


def test_guest_name_clash_with_host() -> None:
    text = BASE.replace("      c1: {attach", "      h2: {attach")
    assert any(ln == 7 and "already used" in m for ln, m in problems(text))


def test_tunnel_to_an_address_no_host_has() -> None:
    text = BASE.replace("      - bridge: {name: cbr0, address: 10.1.2.1/24}",
                        "      - tunnel: {bridge: obr0, type: gre, remote: 192.168.9.7}")
    assert any(ln == 10 and "no host in this lab has that address" in m for ln, m in problems(text))


def test_schema_errors_carry_lines() -> None:
    text = BASE.replace("    subnet: 192.168.9.0/24", "    subnet: 192.168.9.0/24\n    mtu: 12\n    colour: red")
    found = problems(text)
    assert any(ln == 14 and "mtu" in m for ln, m in found), found
    assert any(ln == 15 and "colour" in m and "allowed" in m for ln, m in found), found


def test_bad_interface_name_in_link() -> None:
    text = BASE + "links:\n  - {endpoints: ['h1:this-is-way-too-long', 'h2:eth1'], addresses: [10.9.0.1/30, 10.9.0.2/30]}\n"
    assert any(ln == 18 for ln, _ in problems(text))


def test_not_yaml_and_not_a_lab() -> None:
    assert problems("hosts: [unclosed\n")[0][1].startswith("not valid YAML")
    assert "top-level 'hosts:'" in problems("- a\n- b\n")[0][1]


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_examples_are_valid_and_render(path: str) -> None:
    with open(path, encoding="utf-8") as f:
        topo = build(parse_text(f.read(), path), Wirework)
    assert topo.expects and expand(topo)
    plan = plan_up(topo, LabNames(topo.name, "/tmp/x"), LabFacts())
    assert plan.steps[0].describe() == f"create network namespace wwl-{topo.name}.sw"
    assert "?" not in {p.address for p in expand(topo)}
    dot = graph.dot(topo)
    assert dot.startswith("graph ") and all(f"cluster_{h}" in dot for h in topo.hosts)
    assert all(f"host {h}" in graph.text(topo) for h in topo.hosts)


def test_converging_plan_creates_nothing_that_exists() -> None:
    topo = build(parse_text(BASE, "t.yaml"), Wirework)
    names = LabNames("t", "/tmp/x")
    first = plan_up(topo, names, LabFacts())
    spaces = frozenset([names.switch_ns, *(names.ns(n) for n in ("h1", "h2", "c1"))])
    links = frozenset([LabNames.seg_bridge(0, topo.segments[0]), *(names.port(topo.segments[0], h) for h in ("h1", "h2"))])
    again = plan_up(topo, names, LabFacts(spaces, links))
    creators = {"create_netns", "create_veth", "create_bridge"}
    assert sum(s.kind in creators for s in first.steps) == 4 + 2 + 1
    assert not [s for s in again.steps if s.kind in creators]


@pytest.mark.parametrize(("output", "fmt", "expected"), [
    (None, None, "text"), ("x.png", None, "png"), ("x.SVG", None, "svg"), ("x.pdf", None, "pdf"),
    ("x.dot", None, "dot"), ("x.gv", None, "dot"), ("x.txt", None, "text"), ("x.png", "svg", "svg"),
    ("x.weird", "dot", "dot"), (None, "png", "png"),
])
def test_graph_format_follows_the_output_extension_unless_told(output: str | None, fmt: str | None,
                                                              expected: str) -> None:
    assert graph.output_format(output, fmt) == expected


@pytest.mark.parametrize("output", ["x.weird", "lab", "x.jpg"])
def test_graph_refuses_an_unknown_extension_without_format(output: str) -> None:
    from wirework.errors import InvalidInput

    with pytest.raises(InvalidInput, match="--format"):
        graph.output_format(output, None)

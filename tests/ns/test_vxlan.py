"""Linux VXLAN on the real kernel: two throwaway "hosts" on a veth underlay, a guest on each,
one subnet across them joined only by the VXLAN devices and their static FDB entries."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Namespaces, ping, sh, snapshot
from wirework.drivers.vxlan import plan_vxlan, probe_vxlan, validate_vxlan
from wirework.errors import Conflict
from wirework.plan.executor import run_best_effort
from wirework.plan.steps import Plan, Step

UNDERLAY = {"a": "10.98.0.1", "b": "10.98.0.2"}
GUESTS = {"a": "10.244.9.1", "b": "10.244.9.2"}
OWNER = "test:vxlan"


@pytest.fixture
def hosts(netns: Namespaces, state_dir: str) -> Iterator[dict[str, Any]]:
    from wirework.api import Wirework

    spaces = {side: netns(f"h{side}") for side in "ab"}
    sh("ip", "link", "add", "eth0", "netns", spaces["a"], "type", "veth", "peer", "name", "eth0", "netns", spaces["b"])
    sessions = {}
    for side, ns in spaces.items():
        sh("ip", "-n", ns, "addr", "add", f"{UNDERLAY[side]}/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sessions[side] = Wirework(netns=ns, state_dir=f"{state_dir}/{side}")
    for ns in spaces.values():  # let IPv6 duplicate address detection finish before "before"
        deadline = time.monotonic() + 5
        while sh("ip", "-6", "addr", "show", "tentative", ns=ns).strip() and time.monotonic() < deadline:
            time.sleep(0.05)
    yield {"ns": spaces, "ww": sessions, "guests": {side: netns(f"g{side}") for side in "ab"}}
    for session in sessions.values():
        session.close()


def build(ww: Any, side: str) -> list[Step]:
    peer = UNDERLAY["b" if side == "a" else "a"]
    spec = validate_vxlan("vx7", 7, UNDERLAY[side], [peer], bridge="br7")
    plan = Plan("vxlan", OWNER, tuple(plan_vxlan(spec, probe_vxlan(ww.host, spec), OWNER)))
    undo: list[Step] = ww.run_plan(plan)
    return undo


def test_guests_reach_each_other_only_through_the_tunnel(hosts: dict[str, Any]) -> None:
    spaces, sessions, guests = hosts["ns"], hosts["ww"], hosts["guests"]
    before = {side: snapshot(ns) for side, ns in spaces.items()}
    undo = {side: build(sessions[side], side) for side in "ab"}
    for side in "ab":
        sessions[side].attach(f"/run/netns/{guests[side]}", "br7", ifname="eth0", ip=f"{GUESTS[side]}/24")
    detail = sh("ip", "-d", "link", "show", "vx7", ns=spaces["a"])
    assert "vxlan id 7 local 10.98.0.1 dev eth0" in detail and "dstport 4789 nolearning" in detail
    assert "mtu 1450" in detail and "master br7" in detail and "alias wirework:test:vxlan" in detail
    fdb = sh("bridge", "fdb", "show", "dev", "vx7", ns=spaces["a"])
    assert "00:00:00:00:00:00 dst 10.98.0.2 self permanent" in fdb
    assert "mtu 1450" in sh("ip", "link", "show", "eth0", ns=guests["a"])
    ga = guests["a"]
    assert any(ping(ga, GUESTS["b"]) for _ in range(3))
    assert ping(ga, GUESTS["b"], size=1450 - 28, dont_fragment=True)
    assert not ping(ga, GUESTS["b"], size=1451 - 28, dont_fragment=True)
    stats = sh("ip", "-s", "link", "show", "vx7", ns=spaces["a"])
    tx_packets = int(stats.split("TX:")[1].splitlines()[1].split()[1])
    assert tx_packets > 0
    # Without the FDB entry the tunnel goes quiet: nothing is flooded anywhere else.
    sh("bridge", "fdb", "del", "00:00:00:00:00:00", "dev", "vx7", "dst", "10.98.0.2", ns=spaces["a"])
    sh("ip", "neigh", "flush", "dev", "eth0", ns=ga)
    assert not ping(ga, GUESTS["b"])
    for side in "ab":
        sessions[side].detach(f"/run/netns/{guests[side]}", "eth0")
        assert run_best_effort(sessions[side].host, undo[side]) == []
        assert snapshot(spaces[side]) == before[side]
        assert run_best_effort(sessions[side].host, undo[side]) == []  # again: absence is fine


def test_converges_and_refuses_a_device_it_did_not_make(hosts: dict[str, Any]) -> None:
    spaces, sessions = hosts["ns"], hosts["ww"]
    assert build(sessions["a"], "a") and build(sessions["a"], "a") == []  # second run: nothing to do
    ns_b = spaces["b"]
    sh("ip", "link", "add", "vx7", "type", "vxlan", "id", "7", "dstport", "4789", ns=ns_b)
    with pytest.raises(Conflict, match="belongs to nobody"):
        build(sessions["b"], "b")
    from wirework.drivers.vxlan import CreateVxlan

    run_best_effort(sessions["b"].host, CreateVxlan("vx7", 7, UNDERLAY["b"], OWNER).crash_undo())
    assert "vx7" in sh("ip", "link", "show", "vx7", ns=ns_b)  # untagged: kept

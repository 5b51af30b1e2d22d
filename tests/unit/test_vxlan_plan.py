"""Linux VXLAN planning on the fake host: golden steps and commands, verify-or-refuse, round trips."""

from __future__ import annotations

import pytest

from wirework.drivers.fdb import AddFdb, AddNeighbour, DelFdb, DelNeighbour
from wirework.drivers.vxlan import (
    CreateVxlan,
    VxlanPeer,
    peer_l3_steps,
    plan_vxlan,
    probe_vxlan,
    validate_vxlan,
    vxlan_mtu,
)
from wirework.errors import Conflict, InvalidInput, NotFound
from wirework.model.addr import parse_cidr
from wirework.model.host import FdbEntry
from wirework.plan.executor import Executor, run_best_effort
from wirework.plan.steps import Plan, plan_from_dict
from wirework.testing import FakeHost

OWNER = "lab:t"
ZERO = "00:00:00:00:00:00"


def underlay_host(mtu: int | None = None) -> FakeHost:
    host = FakeHost()
    host.net._add(None, "eth0", "veth", mtu)
    host.net.add_address("eth0", parse_cidr("10.0.0.1/24"))
    return host


def spec(**kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {"bridge": "br0"}
    args.update(kw)
    return validate_vxlan("vx42", 42, "10.0.0.1", ["10.0.0.2", "10.0.0.3"], **args)  # type: ignore[arg-type]


def plan_for(host: FakeHost, **kw: object) -> Plan:
    s = spec(**kw)
    return Plan("vxlan", OWNER, tuple(plan_vxlan(s, probe_vxlan(host, s), OWNER)))


def test_new_device_golden_steps_and_commands() -> None:
    plan = plan_for(underlay_host())
    assert [s.describe() for s in plan.steps] == [
        "create Linux bridge br0",
        "bring br0 up",
        "create VXLAN device vx42 (VNI 42, local 10.0.0.1, UDP 4789, learning off, MTU 1450)",
        "attach vx42 to bridge br0",
        "bring vx42 up",
        "send flood (broadcast, unknown unicast) on vx42 to peer 10.0.0.2",
        "send flood (broadcast, unknown unicast) on vx42 to peer 10.0.0.3",
    ]
    assert [c for s in plan.steps for c in s.commands()] == [
        "ip link add br0 mtu 1450 type bridge",
        "ip link set br0 alias wirework:lab:t",
        "ip link set br0 up",
        "ip link add vx42 mtu 1450 type vxlan id 42 local 10.0.0.1 dstport 4789 nolearning dev eth0",
        "ip link set vx42 alias wirework:lab:t",
        "ip link set vx42 master br0",
        "ip link set vx42 up",
        "bridge fdb append 00:00:00:00:00:00 dev vx42 dst 10.0.0.2",
        "bridge fdb append 00:00:00:00:00:00 dev vx42 dst 10.0.0.3",
    ]
    assert plan_from_dict(plan.to_dict()) == plan


def test_mtu_follows_the_underlay_and_an_explicit_one_wins() -> None:
    assert vxlan_mtu(1500) == 1450 and vxlan_mtu(9000) == 8950 and vxlan_mtu(1500, ipv6=True) == 1430
    create = next(s for s in plan_for(underlay_host(9000)).steps if isinstance(s, CreateVxlan))
    assert create.mtu == 8950
    create = next(s for s in plan_for(underlay_host(), mtu=1400).steps if isinstance(s, CreateVxlan))
    assert create.mtu == 1400


def test_without_bridge_and_with_other_port() -> None:
    plan = plan_for(underlay_host(), bridge=None, port=8472)
    assert [type(s).__name__ for s in plan.steps] == ["CreateVxlan", "LinkUp", "AddFdb", "AddFdb"]
    assert "dstport 8472" in plan.steps[0].commands()[0]


def test_apply_then_undo_returns_the_host_to_its_start() -> None:
    host = underlay_host()
    before = host.snapshot()
    undo = Executor(host).run(plan_for(host))
    assert host.net.vxlan("vx42") is not None and host.net.link("vx42").mtu == 1450  # type: ignore[union-attr]
    assert host.net.link("vx42").master == host.net.link("br0").index  # type: ignore[union-attr]
    assert host.net.fdb("vx42") == [FdbEntry(ZERO, "10.0.0.2"), FdbEntry(ZERO, "10.0.0.3")]
    # A fresh device: its entries go with it, so the undo is the two tagged deletions.
    assert [s.describe() for s in undo] == ["delete vx42 (if tagged wirework:lab:t)",
                                            "delete br0 (if tagged wirework:lab:t)"]
    assert run_best_effort(host, undo) == []
    assert host.state == before
    assert run_best_effort(host, undo) == []  # again: absence is success


def test_failure_mid_way_rolls_back_everything() -> None:
    host = underlay_host()
    before = host.snapshot()
    host.fail_on("fdb_append")
    with pytest.raises(Exception, match="injected failure"):
        Executor(host).run(plan_for(host))
    assert host.state == before


def test_converging_run_adds_missing_peers_and_drops_stale_ones() -> None:
    host = underlay_host()
    Executor(host).run(plan_for(host))
    host.net.fdb_del("vx42", ZERO, "10.0.0.3")
    host.net.fdb_append("vx42", ZERO, "10.0.0.9")
    plan = plan_for(host)
    assert [s.describe() for s in plan.steps] == [
        "set MTU of vx42 to 1450", "bring vx42 up",
        "send flood (broadcast, unknown unicast) on vx42 to peer 10.0.0.3",
        "remove FDB entry 00:00:00:00:00:00 -> 10.0.0.9 from vx42",
    ]
    undo = Executor(host).run(plan)
    assert host.net.fdb("vx42") == [FdbEntry(ZERO, "10.0.0.2"), FdbEntry(ZERO, "10.0.0.3")]
    assert [s for s in undo if isinstance(s, (AddFdb, DelFdb))] == [
        AddFdb("vx42", "10.0.0.9"), DelFdb("vx42", "10.0.0.3")]
    third = Executor(host).run(plan_for(host))
    assert third == []  # in place: nothing changed, nothing to undo


def test_existing_bridge_gets_the_tunnel_mtu() -> None:
    host = underlay_host()
    host.net.create_bridge("br0", mtu=None, vlan_filtering=False)
    plan = plan_for(host)
    assert [s.describe() for s in plan.steps][:2] == ["set MTU of br0 to 1450",
                                                      "create VXLAN device vx42 (VNI 42, local 10.0.0.1, UDP "
                                                      "4789, learning off, MTU 1450)"]


@pytest.mark.parametrize(("change", "words"), [
    ({"vni": 43}, "with VNI 43, not 42"),
    ({"local": "10.0.0.7"}, "with local 10.0.0.7, not 10.0.0.1"),
    ({"port": 8472}, "with dstport 8472, not 4789"),
    ({"learning": True}, "with learning True, not False"),
])
def test_an_existing_device_that_differs_is_named_field_by_field(change: dict[str, object], words: str) -> None:
    host = underlay_host()
    Executor(host).run(plan_for(host))
    host.state.vxlans["vx42"] = host.state.vxlans["vx42"].__class__(**{**host.state.vxlans["vx42"].__dict__, **change})
    with pytest.raises(Conflict, match=words):
        plan_for(host)


def test_refuses_someone_elses_device_and_non_vxlan_names() -> None:
    host = underlay_host()
    host.net.create_vxlan("vx42", vni=42, local="10.0.0.1", port=4789, learning=False, underlay=None, mtu=None)
    with pytest.raises(Conflict, match="belongs to nobody"):
        plan_for(host)
    other = underlay_host()
    other.net.create_bridge("vx42", mtu=None, vlan_filtering=False)
    with pytest.raises(Conflict, match="exists as a bridge, not a VXLAN device"):
        plan_for(other)
    third = underlay_host()
    third.net._add(None, "br0", "veth")
    with pytest.raises(Conflict, match="not a Linux bridge"):
        plan_for(third)


def test_untagged_device_is_never_deleted() -> None:
    host = underlay_host()
    host.net.create_vxlan("vx42", vni=42, local="10.0.0.1", port=4789, learning=False, underlay=None, mtu=None)
    assert run_best_effort(host, CreateVxlan("vx42", 42, "10.0.0.1", OWNER).crash_undo()) == []
    assert host.net.vxlan("vx42") is not None


def test_no_underlay_address() -> None:
    host = FakeHost()
    with pytest.raises(NotFound, match="10.0.0.1"):
        probe_vxlan(host, spec())


@pytest.mark.parametrize(("args", "words"), [
    (("vx0", 0, "10.0.0.1", []), "1 to 16777215"),
    (("vx0", 2**24, "10.0.0.1", []), "1 to 16777215"),
    (("vx0", 5, "10.0.0", []), "not an IP address"),
    (("vx0", 5, "10.0.0.1", ["h2"]), "not an IP address"),
    (("vx0", 5, "10.0.0.1", ["10.0.0.1"]), "local address itself"),
    (("vx0", 5, "10.0.0.1", ["fd00::2"]), "IPv4"),
    (("averyverylongname0", 5, "10.0.0.1", []), "averyverylongname0"),
])
def test_validation(args: tuple[object, ...], words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        validate_vxlan(*args)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="two names"):
        validate_vxlan("vx0", 5, "10.0.0.1", bridge="vx0")
    assert validate_vxlan("vx0", 5, "10.0.0.1", ["10.0.0.2", "10.0.0.2"]).peers == ("10.0.0.2",)


def test_routed_peer_triple_and_neighbour_round_trip() -> None:
    peer = VxlanPeer("10.0.0.2", "02:aa:bb:cc:dd:ee", "10.244.2.0", "10.244.2.0/24")
    assert [c for s in peer_l3_steps("vx1", peer) for c in s.commands()] == [
        "ip neigh replace 10.244.2.0 lladdr 02:aa:bb:cc:dd:ee dev vx1 nud permanent",
        "bridge fdb append 02:aa:bb:cc:dd:ee dev vx1 dst 10.0.0.2",
        "ip route add 10.244.2.0/24 via 10.244.2.0 dev vx1 onlink proto static",
    ]
    host = underlay_host()
    Executor(host).run(plan_for(host, bridge=None))
    before = host.snapshot()
    undo = Executor(host).run(Plan("peer", OWNER, tuple(peer_l3_steps("vx42", peer))))
    assert [(n.ip, n.mac) for n in host.net.neighbours("vx42")] == [("10.244.2.0", "02:aa:bb:cc:dd:ee")]
    assert FdbEntry("02:aa:bb:cc:dd:ee", "10.0.0.2") in host.net.fdb("vx42")
    assert run_best_effort(host, undo) == [] and host.state == before
    neigh = AddNeighbour("vx42", "10.244.2.0", "02:aa:bb:cc:dd:ee")
    undo = list(neigh.apply(host))
    assert undo == [DelNeighbour("vx42", "10.244.2.0")] and list(neigh.apply(host)) == []
    assert list(undo[0].apply(host)) == [neigh] and host.net.neighbours("vx42") == []
    assert list(undo[0].apply(host)) == []  # absent: nothing to do

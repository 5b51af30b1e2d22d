"""Plans against the fake host: golden step lists, rollback to the exact start, crash recovery."""

from __future__ import annotations

import os

import pytest

from wirework.attachments.attach import check_attach, plan_attach, plan_detach, probe_attach
from wirework.attachments.records import Attachment
from wirework.errors import Conflict, InvalidInput, NotFound, StepFailed
from wirework.model.guest import Guest
from wirework.model.host import LinkInfo, RouteSpec
from wirework.model.specs import validate_attach
from wirework.plan.executor import Executor, Journal, recover
from wirework.plan.steps import plan_from_dict
from wirework.store.sqlite import SqliteStore
from wirework.testing import FakeHost

NS = "/run/netns/g1"
GUEST = Guest("netns", "g1", "g1", "netns:g1", NS, "1:2", mode="netns")


def host_with_guest(**kw: object) -> FakeHost:
    host = FakeHost(**kw)  # type: ignore[arg-type]
    host.add_guest(NS)
    return host


def make_plan(host: FakeHost, *args: str, **options: object):  # type: ignore[no-untyped-def]
    spec = validate_attach("g1", *args, **options)  # type: ignore[arg-type]
    facts = probe_attach(host, spec, GUEST, [])
    check_attach(spec, facts)
    return spec, facts, plan_attach(spec, facts)


def test_plan_new_bridge_golden() -> None:
    host = host_with_guest(forward_blocked=True)
    _, facts, plan = make_plan(host, "br0", ip="192.168.114.100/24", gateway="192.168.114.1")
    veth = f"wwv{facts.att_id}"
    assert plan.owner == f"att:{facts.att_id}.{facts.nonce}" and len(facts.nonce) == 6
    assert [s.describe() for s in plan.steps] == [
        "create Linux bridge br0",
        "bring br0 up",
        f"create veth {veth} (in bridge br0, up) <-> eth1 in {NS}",
        "accept traffic between ports of br0 in iptables DOCKER-USER/FORWARD (the FORWARD policy is DROP, "
        "as Docker sets it, and bridged frames pass through it)",
        f"add address 192.168.114.100/24 to eth1 in {NS}",
        f"add route default via 192.168.114.1 dev eth1 in {NS}",
    ]
    assert plan.lasting == (0, 1, 3)
    assert plan_from_dict(plan.to_dict()) == plan


def test_plan_ovs_userspace_turns_offload_off_and_tags_vlan() -> None:
    host = host_with_guest()
    host.ovs.add_bridge("ovsbr0", datapath="netdev", owner="someone")
    _, _, plan = make_plan(host, "ovsbr0", ip="10.0.0.2/24", vlan="10")
    kinds = [s.kind for s in plan.steps]
    assert kinds == ["create_veth", "ovs_add_port", "set_tx_offload", "add_address"]
    assert plan.steps[1].tag == 10  # type: ignore[attr-defined]


def test_plan_missing_host_if_rules() -> None:
    host = host_with_guest()
    with pytest.raises(NotFound, match="name it br"):
        make_plan(host, "eth9", ip="10.0.0.2/24")
    _, facts, _ = make_plan(host, "ovs7", ip="10.0.0.2/24")
    assert facts.host_kind == "new-ovs" and facts.ovs_datapath == "netdev"


def test_macvlan_on_nic() -> None:
    host = host_with_guest()
    host.net._add(None, "eth0", "")
    _, _, plan = make_plan(host, "eth0", ip="10.0.0.2/24", mac="U:x")
    assert plan.steps[0].describe() == f"create macvlan eth1 on eth0 (bridge mode) in {NS}"


def test_refusals() -> None:
    host = host_with_guest()
    host.net._add(None, "tap0", "tun")
    with pytest.raises(InvalidInput, match="neither a bridge nor a NIC"):
        make_plan(host, "tap0", ip="10.0.0.2/24")
    host.net._add(NS, "eth1", "veth")
    host.net.create_bridge("br0", mtu=None, vlan_filtering=False)
    with pytest.raises(Conflict, match="already exists in guest"):
        make_plan(host, "br0", ip="10.0.0.2/24")
    with pytest.raises(InvalidInput, match="no VLAN filtering"):
        make_plan(host, "br0", ip="10.0.0.2/24", vlan="5", ifname="eth2")


@pytest.mark.parametrize("failing", ["create_bridge", "create_veth", "set_master", "set_up", "add_address", "add_route"])
def test_failure_anywhere_restores_exact_state(failing: str) -> None:
    host = host_with_guest(forward_blocked=True)
    before = host.snapshot()
    _, _, plan = make_plan(host, "br0", ip="10.0.0.2/24", gateway="10.0.0.1")
    host.fail_on(failing)
    store = SqliteStore(":memory:")
    with pytest.raises((StepFailed, RuntimeError)):
        Executor(host, store).run(plan)
    assert host.snapshot() == before
    assert store.scan("ops/") == []


def test_fault_hook_at_every_step_restores_state() -> None:
    steps = len(make_plan(host_with_guest(forward_blocked=True), "br0", ip="10.0.0.2/24", gateway="10.0.0.1")[2].steps)
    assert steps == 6
    for index in range(steps):
        host = host_with_guest(forward_blocked=True)
        before = host.snapshot()
        _, _, plan = make_plan(host, "br0", ip="10.0.0.2/24", gateway="10.0.0.1")

        def hook(i: int, step: object, index: int = index) -> None:
            if i == index:
                raise RuntimeError("boom")

        with pytest.raises(StepFailed, match="rolled back"):
            Executor(host, None, hook).run(plan)
        assert host.snapshot() == before, index


def test_undo_of_success_excludes_lasting_and_reverses() -> None:
    host = host_with_guest()
    _, facts, plan = make_plan(host, "br0", ip="10.0.0.2/24", gateway="10.0.0.1")
    undo = Executor(host, None).run(plan)
    # Steps on the links the plan created record no undo: deleting the veth takes them along.
    assert [s.kind for s in undo] == ["delete_link"]
    for step in undo:
        step.apply(host)
    assert host.net.link("br0") is not None  # the bridge outlives the attachment
    assert [li.name for li in host.net.links(NS)] == ["lo"]


def test_crash_recovery_undoes_journal_and_in_flight_create(tmp_path: object) -> None:
    host = host_with_guest()
    _, _, plan = make_plan(host, "br0", ip="10.0.0.2/24")
    store = SqliteStore(":memory:")
    journal = Journal(store, plan)
    journal.begin()
    journal.applied(plan.steps[0].apply(host))  # bridge created
    journal.applied(plan.steps[1].apply(host))  # bridge up
    plan.steps[2].apply(host)  # veth created, then "crash" before the journal says so
    record = store.get(journal.key)
    assert record is not None
    store.put(journal.key, {**record.value, "pid": 999999999, "pid_start": "x"})
    done = recover(host, store)
    assert done and store.scan("ops/") == []
    assert host.net.links(None) == [] and [li.name for li in host.net.links(NS)] == ["lo"]


def test_recover_skips_live_process() -> None:
    host = host_with_guest()
    _, _, plan = make_plan(host, "br0", ip="10.0.0.2/24")
    store = SqliteStore(":memory:")
    Journal(store, plan).begin()  # this very process: alive
    assert recover(host, store) == []
    assert len(store.scan("ops/")) == 1
    assert os.getpid() > 0


def test_detach_plan_skips_steps_in_a_replaced_namespace() -> None:
    host = host_with_guest()
    host.net._add(NS, "eth0", "veth")
    host.net.add_route(RouteSpec("default", gateway="10.9.9.9", dev="eth0"), NS)
    spec, facts, plan = make_plan(host, "br0", ip="10.0.0.2/24", gateway="10.0.0.1")
    undo = Executor(host, None).run(plan)
    # the new default goes, then the guest's old default comes back, then the veth goes
    assert [s.kind for s in undo] == ["del_route", "add_route", "delete_link"]
    att = Attachment(id=facts.att_id, host="-", guest=GUEST, spec=spec, host_if="br0", host_kind="bridge",
                     host_ifname=f"wwv{facts.att_id}", cont_ifname="eth1", cidr="10.0.0.2/24", gateway=None,
                     mac="", undo=tuple(s.to_dict() for s in undo))
    same = plan_detach(att, "1:2", 0)
    moved = plan_detach(att, "9:9", 0)
    assert any(getattr(s, "ns", None) == NS for s in same.steps)
    assert not any(getattr(s, "ns", None) == NS for s in moved.steps)
    assert [s.kind for s in moved.steps][-2:] == ["delete_link", "remove_forward_accept"]
    assert isinstance(host.net.link("br0"), LinkInfo)


def test_fake_host_satisfies_the_host_protocol() -> None:
    from wirework.model.host import Host

    host: Host = FakeHost()  # mypy checks this assignment; at run time the attributes exist
    assert host.nft is not None and host.fw.forward_blocked() is False


def test_guest_in_the_hosts_own_namespace_is_refused() -> None:
    host = host_with_guest()
    spec = validate_attach("g1", "br0", ip="10.0.0.2/24")
    facts = probe_attach(host, spec, GUEST, [], host_ns_id=GUEST.netns_id)
    with pytest.raises(InvalidInput, match="shares the host's network namespace"):
        check_attach(spec, facts)


def test_vlan_subinterface_is_reused_and_outlives_the_attachment() -> None:
    host = host_with_guest()
    host.net._add(None, "eth0", "")
    _, _, plan = make_plan(host, "eth0", ip="10.0.0.2/24", vlan="10")
    assert [s.kind for s in plan.steps][:2] == ["create_vlan", "create_macvlan"] and 0 in plan.lasting
    host.net._add(None, "eth0.10", "vlan")
    _, _, plan = make_plan(host, "eth0", ip="10.0.0.3/24", vlan="10", ifname="eth2")
    assert plan.steps[0].kind == "create_macvlan"
    host.net._add(None, "averylongnic0", "")
    with pytest.raises(InvalidInput, match="longer than 15"):
        make_plan(host, "averylongnic0", ip="10.0.0.4/24", vlan="100", ifname="eth3")


def test_a_failing_commit_rolls_back_and_closes_the_journal() -> None:
    host = host_with_guest()
    before = host.snapshot()
    _, _, plan = make_plan(host, "br0", ip="10.0.0.2/24")
    store = SqliteStore(":memory:")

    def commit(undo: list[object]) -> list[object]:
        raise RuntimeError("store full")

    with pytest.raises(RuntimeError, match="store full"):
        Executor(host, store).run(plan, commit)  # type: ignore[arg-type]
    assert host.snapshot() == before and store.scan("ops/") == []


def test_own_journal_left_behind_is_recovered_by_the_same_process() -> None:
    host = host_with_guest()
    _, _, plan = make_plan(host, "br0", ip="10.0.0.2/24")
    store = SqliteStore(":memory:")
    journal = Journal(store, plan)
    journal.begin()
    for step in plan.steps[:3]:
        journal.applied(step.apply(host))
    from wirework.plan.journal import deactivate

    deactivate(journal.op_id)  # what a failed close in the service leaves
    assert recover(host, store) and store.scan("ops/") == []
    assert [li.name for li in host.net.links(NS)] == ["lo"] and host.net.links(None) == []


def test_hairpin_step_undoes_exactly_what_it_changed() -> None:
    from wirework.drivers.bridgeports import SetHairpin

    host = host_with_guest()
    host.net.create_bridge("br0", mtu=None, vlan_filtering=False)
    host.net.create_veth("wwvport", "eth1", NS, mtu=None, peer_mac=None, master="br0")
    undo = SetHairpin("wwvport").apply(host)
    assert host.net.hairpin("wwvport") is True and undo == [SetHairpin("wwvport", False)]
    assert SetHairpin("wwvport").apply(host) == ()  # already on: nothing to undo later
    for step in undo:
        step.apply(host)
    assert host.net.hairpin("wwvport") is False
    with pytest.raises(NotFound, match="bridge port"):
        SetHairpin("br0").apply(host)  # not a bridge port
    assert SetHairpin("gone", False).apply(host) == ()  # turning off on a port that left: fine

"""Crash recovery on the fake host: a process "killed" before any step of a plan, then recovery.

The kill is simulated exactly: at the fault hook the host's state and the store's rows are
copied (what a SIGKILL would leave), the executor's own rollback then runs and is thrown
away, both copies are put back, and a fresh `recover` must return the host to where it was.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import pytest

from wirework.attachments.attach import check_attach, plan_attach, probe_attach
from wirework.drivers.fdb import AddFdb, AddNeighbour, DelFdb, DelNeighbour
from wirework.drivers.guestlinks import MoveLink
from wirework.drivers.links import LinkDown, LinkUp, SetMaster, SetMtu
from wirework.drivers.routes import AddAddress, AddRoute, DelAddress, DelRoute, ReplaceRoute
from wirework.drivers.switch import EnsureForwardAccept, SetSysctl
from wirework.model.addr import parse_cidr
from wirework.model.guest import Guest
from wirework.model.host import RouteSpec
from wirework.model.specs import validate_attach
from wirework.plan.executor import Executor, recover
from wirework.plan.journal import Journal
from wirework.plan.steps import Plan, Step
from wirework.store.base import Put
from wirework.store.sqlite import SqliteStore
from wirework.testing import FakeHost
from wirework.uplink.plan import plan_uplink, probe_uplink, validate_uplink

NS = "/run/netns/g1"
GUEST = Guest("netns", "g1", "g1", "netns:g1", NS, "1:2", mode="netns")
GW = "192.168.1.1"


class Killed(KeyboardInterrupt):  # passed through by the executor as it is
    pass


def lan_host() -> FakeHost:
    host = FakeHost()
    host.net._add(None, "eth0", "veth")
    for cidr in ("192.168.1.10/24", "192.168.1.11/24"):
        host.net.add_address("eth0", parse_cidr(cidr))
    for route in (RouteSpec("default", gateway=GW, dev="eth0"), RouteSpec("10.50.0.0/16", gateway=GW, dev="eth0", table=100)):
        host.net.add_route(route)
    host.add_guest(NS)
    host.net._add(NS, "eth0", "veth")
    host.net.add_route(RouteSpec("default", gateway="172.30.0.1", dev="eth0"), NS)
    host.sysctl.set("net.ipv4.ip_forward", "0")
    return host


def state_of(host: FakeHost) -> object:
    return (copy.deepcopy(host.state), copy.deepcopy(host.nft.__dict__))


def restore(host: FakeHost, saved: object) -> None:
    state, nft = copy.deepcopy(saved)  # type: ignore[misc]
    host.state.__dict__.update(state.__dict__)
    host.nft.__dict__.update(nft)


def killed_at(host: FakeHost, plan: Plan, index: int) -> SqliteStore:
    """Run `plan` and "kill" the process right before step `index`: the store it leaves."""
    store = SqliteStore(":memory:")
    left: list[object] = []

    def hook(i: int, step: Step) -> None:
        if i == index:
            left.append((state_of(host), [(e.key, e.value) for e in store.scan("")]))
            raise Killed

    with pytest.raises(Killed):
        Executor(host, store, hook).run(plan)
    saved, rows = left[0]  # type: ignore[misc]
    restore(host, saved)
    after = SqliteStore(":memory:")
    after.txn([], [Put(k, v) for k, v in rows])
    assert after.scan("ops/"), "the kill left no journal"
    return after


def every_index_recovers(host: FakeHost, make_plan: Callable[[FakeHost], Plan]) -> None:
    before = state_of(host)
    plan = make_plan(host)
    assert plan.steps
    for index in range(len(plan.steps)):
        store = killed_at(host, plan, index)
        journal = store.scan("ops/")[0].value
        store.put(journal_key(store), {**journal, "pid": 999_999_999, "pid_start": "x"})  # a dead process
        assert recover(host, store), index
        assert store.scan("ops/") == []
        assert state_of(host) == before, f"not put back after a kill before step {index} ({plan.steps[index].describe()})"


def journal_key(store: SqliteStore) -> str:
    return next(e.key for e in store.scan("ops/") if e.key.count("/") == 2)


def uplink_plan(host: FakeHost, **kw: object) -> Plan:
    spec = validate_uplink(str(kw.pop("bridge", "br0")), "eth0", **kw)  # type: ignore[arg-type]
    return plan_uplink(spec, probe_uplink(host, spec))


def test_uplink_killed_before_any_step_is_put_back_exactly() -> None:
    every_index_recovers(lan_host(), uplink_plan)


def test_attach_replacing_the_guest_default_killed_anywhere_is_put_back_exactly() -> None:
    def plan(host: FakeHost) -> Plan:
        spec = validate_attach("g1", "br0", ip="10.0.0.2/24", gateway="10.0.0.1")
        facts = probe_attach(host, spec, GUEST, [])
        check_attach(spec, facts)
        return plan_attach(spec, facts)

    every_index_recovers(lan_host(), plan)


def test_changes_to_existing_state_killed_anywhere_are_put_back_exactly() -> None:
    host = lan_host()
    host.net._add(None, "br9", "bridge")
    host.net._add(None, "vx1", "vxlan")
    host.net.fdb_append("vx1", "00:00:00:00:00:00", "10.0.0.7")
    host.net.neigh_add("vx1", "10.9.0.7", "02:00:00:00:00:07")
    steps: list[Step] = [
        SetMtu("eth0", 1400), SetMaster("eth0", "br9"), LinkUp("br9"), LinkDown("eth0"),
        SetSysctl("net.ipv4.ip_forward", "1"), EnsureForwardAccept("br9", "bridge:br9"),
        ReplaceRoute(RouteSpec("default", gateway="192.168.1.2", dev="eth0")),
        AddFdb("vx1", "10.0.0.8"), DelFdb("vx1", "10.0.0.7"),
        AddNeighbour("vx1", "10.9.0.7", "02:00:00:00:00:08"), DelNeighbour("vx1", "10.9.0.7"),
        AddAddress("eth0", "192.168.1.10/24"), MoveLink("eth0", None, NS, "eth5", "att:x"),
    ]
    every_index_recovers(host, lambda h: Plan("test", "test", tuple(steps)))


@pytest.mark.parametrize("step", [
    SetMtu("eth0", 1400), SetMaster("eth0", "br9"), LinkUp("br9"), LinkDown("eth0"),
    SetSysctl("net.ipv4.ip_forward", "1"), AddAddress("eth0", "192.168.1.10/24"), AddAddress("eth0", "10.3.0.1/8"),
    DelAddress("eth0", "192.168.1.11/24"), DelAddress("eth0", "10.3.0.1/8"),
    AddRoute(RouteSpec("default", gateway=GW, dev="eth0")), AddRoute(RouteSpec("10.7.0.0/16", dev="eth0")),
    DelRoute(RouteSpec("10.50.0.0/16", gateway=GW, dev="eth0", table=100)), DelRoute(RouteSpec("10.8.0.0/16", dev="eth0")),
    ReplaceRoute(RouteSpec("default", gateway="192.168.1.2", dev="eth0")), EnsureForwardAccept("br9", "bridge:br9"),
], ids=lambda s: s.describe())
def test_prepared_undo_is_exact_whether_or_not_the_step_ran(step: Step) -> None:
    host = lan_host()
    host.net._add(None, "br9", "bridge")
    before = state_of(host)
    assert step.changes_existing()
    run(host, step.prepare(host))  # killed before the step ran
    assert state_of(host) == before
    undo = step.prepare(host)
    step.apply(host)
    run(host, undo)  # killed right after it ran
    assert state_of(host) == before


def run(host: FakeHost, steps: Sequence[Step]) -> None:
    for s in steps:
        s.apply(host)


class CountingStore(SqliteStore):
    def __init__(self) -> None:
        super().__init__(":memory:")
        self.writes = 0

    def put(self, key: str, value: object) -> int:
        self.writes += 1
        return super().put(key, value)

    def txn(self, compares, ops):  # type: ignore[no-untyped-def]
        self.writes += 1
        return super().txn(compares, ops)


def test_a_plain_attach_writes_the_store_twice() -> None:
    """Creators of tagged objects run as one group: the journal, then the commit."""
    host = lan_host()
    spec = validate_attach("g1", "br0", ip="10.0.0.2/24")
    facts = probe_attach(host, spec, GUEST, [])
    host.net._add(None, "br0", "bridge")
    plan = plan_attach(spec, probe_attach(host, spec, GUEST, []))
    store = CountingStore()
    Executor(host, store).run(plan, lambda undo: [Put("att/-/x", 1)])
    assert store.writes == 2 and facts.att_id


def test_journals_are_replayed_only_on_their_own_host() -> None:
    store = SqliteStore(":memory:")
    h1, other, real = FakeHost(netns="h1"), FakeHost(netns="h2"), FakeHost()
    for host in (h1, other, real):
        host.net._add(None, "eth0", "veth")
    h1.net.set_mtu("eth0", 1400)
    journal = Journal(store, Plan("test", "test", (SetMtu("eth0", 1500),)), "h1")
    journal.save(0, SetMtu("eth0", 1500).prepare(h1))
    SetMtu("eth0", 1500).apply(h1)
    store.put(journal.key, {**store.get(journal.key).value, "pid": 999_999_999, "pid_start": "x"})  # type: ignore[union-attr]
    assert recover(other, store) == [] and recover(real, store) == []
    assert recover(h1, store) and h1.net.link("eth0").mtu == 1400  # type: ignore[union-attr]
    assert store.scan("ops/") == []


def test_journals_of_the_older_layout_are_replayed_on_the_real_host() -> None:
    store = SqliteStore(":memory:")
    host = FakeHost()
    host.net._add(None, "br0", "bridge")
    host.net.set_alias("br0", "wirework:bridge:br0")
    plan = Plan("attach", "att:x", (SetMtu("br0", 1400),))
    from wirework.drivers.links import CreateBridge

    plan = Plan("attach", "att:x", (CreateBridge("br0", "bridge:br0"),))
    store.put("ops/0123456789ab", {"pid": 999_999_999, "pid_start": "x", "started": 0, "plan": plan.to_dict(),
                                   "applied": 0, "undo": []})
    assert recover(FakeHost(netns="h1"), store) == []
    assert recover(host, store) and host.net.link("br0") is None and store.scan("ops/") == []


def test_hairpin_on_an_existing_port_is_journaled_and_put_back() -> None:
    from wirework.drivers.bridgeports import SetHairpin

    host = lan_host()
    host.net._add(None, "br9", "bridge")
    host.net.set_master("eth0", "br9")
    before = state_of(host)
    step = SetHairpin("eth0", True)
    assert step.changes_existing() and not SetHairpin("eth0", True, fresh=True).changes_existing()
    run(host, step.prepare(host))
    assert state_of(host) == before
    undo = step.prepare(host)
    step.apply(host)
    assert host.net.hairpin("eth0") is True
    run(host, undo)
    assert host.net.hairpin("eth0") is False

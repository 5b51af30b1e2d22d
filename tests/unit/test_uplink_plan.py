"""The uplink plan against the fake host: order, rollback at every step, refusals."""

from __future__ import annotations

import pytest

from wirework.errors import Conflict, InvalidInput, NotFound
from wirework.model.addr import parse_cidr
from wirework.model.host import RouteSpec
from wirework.plan.executor import Executor, run_best_effort
from wirework.plan.steps import Step, plan_from_dict
from wirework.testing import FakeHost
from wirework.uplink.plan import plan_uplink, probe_uplink, validate_uplink

DEFAULT = RouteSpec("default", gateway="192.168.1.1", dev="eth0")
TABLE100 = RouteSpec("10.50.0.0/16", gateway="192.168.1.1", dev="eth0", table=100)
ONLINK = RouteSpec("10.60.0.0/16", dev="eth0", scope="link")


def lan_host(**kw: object) -> FakeHost:
    host = FakeHost(**kw)  # type: ignore[arg-type]
    host.net._add(None, "eth0", "veth")
    host.net.add_address("eth0", parse_cidr("192.168.1.10/24"))
    for route in (DEFAULT, TABLE100, ONLINK):
        host.net.add_route(route)
    return host


def plan_for(host: FakeHost, bridge: str = "br0", **kw: object):  # type: ignore[no-untyped-def]
    spec = validate_uplink(bridge, "eth0", **kw)  # type: ignore[arg-type]
    facts = probe_uplink(host, spec)
    return facts, plan_uplink(spec, facts)


def test_plan_order_routes_out_first_default_back_last() -> None:
    facts, plan = plan_for(lan_host())
    assert facts.gateway == "192.168.1.1"
    assert [s.describe() for s in plan.steps] == [
        "create Linux bridge br0",
        "remove route default via 192.168.1.1 dev eth0",
        "remove route 10.50.0.0/16 via 192.168.1.1 dev eth0 table 100",
        "remove route 10.60.0.0/16 dev eth0 scope link",
        "remove address 192.168.1.10/24 from eth0",
        "attach eth0 to bridge br0",
        "bring br0 up",
        "add address 192.168.1.10/24 to br0",
        "add route 10.60.0.0/16 dev br0 scope link",
        "add route 10.50.0.0/16 via 192.168.1.1 dev br0 table 100",
        "add route default via 192.168.1.1 dev br0",
    ]
    assert plan_from_dict(plan.to_dict()) == plan


def test_ovs_target_adds_port_and_mtu() -> None:
    _, plan = plan_for(lan_host(), "obr0", ovs=True)
    kinds = [s.kind for s in plan.steps]
    assert kinds[0] == "ovs_add_bridge" and "ovs_add_port" in kinds and "set_mtu" in kinds
    assert kinds.index("ovs_add_port") > kinds.index("del_address")


def test_apply_then_undo_restores_exactly() -> None:
    host = lan_host()
    before = host.snapshot()
    _, plan = plan_for(host)
    undo = Executor(host).run(plan)
    assert ("default" in {r.dst for n, r in host.state.routes if r.dev == "br0"})
    assert run_best_effort(host, undo) == []
    assert host.snapshot() == before


def test_failure_at_every_step_rolls_back() -> None:
    _, plan = plan_for(lan_host())
    for index in range(len(plan.steps)):
        host = lan_host()
        before = host.snapshot()

        def hook(i: int, _s: Step, at: int = index) -> None:
            if i == at:
                raise RuntimeError("injected")

        with pytest.raises(Exception, match="injected"):
            Executor(host, fault=hook).run(plan)
        assert host.snapshot() == before, index


def test_already_uplinked_is_a_noop() -> None:
    host = lan_host()
    _, plan = plan_for(host)
    Executor(host).run(plan)
    _, again = plan_for(host)
    assert again.steps == ()


def test_refusals() -> None:
    host = lan_host()
    with pytest.raises(NotFound):
        plan_for(host, "br0") if False else probe_uplink(host, validate_uplink("br0", "eth9"))
    with pytest.raises(InvalidInput):
        validate_uplink("br0", "br0")
    with pytest.raises(InvalidInput):
        validate_uplink("br0", "eth0", check="gateway")
    host.net.create_bridge("other", mtu=None, vlan_filtering=False)
    host.net.set_master("eth0", "other")
    with pytest.raises(Conflict):
        plan_for(host)

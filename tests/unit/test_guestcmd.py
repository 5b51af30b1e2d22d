import pytest

from wirework.attachments.guestcmd import parse_route, parse_rule, plan_guest_command
from wirework.errors import InvalidInput
from wirework.model.guest import Guest
from wirework.model.host import RouteSpec, RuleSpec

G = Guest("netns", "g", "g", "netns:g", "/run/netns/g", "1:1")


def test_seed_route() -> None:
    verb, route = parse_route(["add", "192.168.0.0/16", "dev", "eth0", "via", "192.168.1.1"])
    assert verb == "add" and route == RouteSpec("192.168.0.0/16", gateway="192.168.1.1", dev="eth0")


def test_route_forms() -> None:
    assert parse_route(["del", "default"])[1].dst == "default"
    assert parse_route(["replace", "10.1.2.3", "metric", "5", "table", "100", "onlink"])[1] == RouteSpec(
        "10.1.2.3/32", metric=5, table=100, onlink=True)
    plan = plan_guest_command("route", G, ["replace", "10.0.0.0/8", "via", "10.1.1.1"])
    assert [s.kind for s in plan.steps] == ["replace_route"]
    assert parse_route(["add", "10.0.0.0/8", "proto", "static", "scope", "link"])[1] == RouteSpec(
        "10.0.0.0/8", proto=4, scope="link")


@pytest.mark.parametrize("args", [[], ["show"], ["add"], ["add", "10.0.0.0/8", "via"], ["add", "x/8"],
                                  ["add", "10.0.0.0/8", "via", "nope"], ["add", "1.0.0.0/8", "table", "bad"],
                                  ["add", "1.0.0.0/8", "scope", "galaxy"], ["add", "1.0.0.0/8", "proto", "x"]])
def test_bad_routes(args: list[str]) -> None:
    with pytest.raises(InvalidInput):
        parse_route(args)


def test_rules() -> None:
    assert parse_rule(["add", "from", "10.0.0.0/24", "lookup", "100", "pref", "1000"]) == (
        "add", RuleSpec(priority=1000, table=100, src="10.0.0.0/24"))
    with pytest.raises(InvalidInput):
        parse_rule(["add", "bogus", "1"])


def test_tc_qdisc_add_has_inverse() -> None:
    plan = plan_guest_command("tc", G, ["qdisc", "add", "dev", "eth1", "root", "tbf", "rate", "1mbit"])
    step = plan.steps[0]
    assert step.undo_argv == ("tc", "qdisc", "del", "dev", "eth1", "root")  # type: ignore[attr-defined]

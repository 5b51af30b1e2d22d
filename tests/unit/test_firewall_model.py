"""`-p` parsing, port conflict checks, and steps as data (JSON round trip, dry-run text)."""

from __future__ import annotations

import pytest

from wirework.errors import Conflict, InvalidInput
from wirework.firewall.check import port_conflicts
from wirework.firewall.links import LinkNetworks, UnlinkNetworks
from wirework.firewall.model import NetworkRules, PortMapping, bind, parse_publish
from wirework.firewall.ports import PublishPort, UnpublishPort
from wirework.firewall.steps import AddNetworkRules, EnsureFirewallBase, EnsureForwarding, RemoveNetworkRules
from wirework.plan.steps import Plan, plan_from_dict


def test_parse_publish_forms() -> None:
    assert parse_publish("8080:80") == [PortMapping("", "", "tcp", 8080, 80)]
    assert parse_publish("0.0.0.0:53:53/UDP") == [PortMapping("", "", "udp", 53, 53)]
    assert parse_publish("127.0.0.1:8000-8002:9000-9002/tcp") == [
        PortMapping("", "", "tcp", 8000 + i, 9000 + i, "127.0.0.1") for i in range(3)
    ]
    assert parse_publish("[127.0.0.1]:1:65535") == [PortMapping("", "", "tcp", 1, 65535, "127.0.0.1")]


@pytest.mark.parametrize(("text", "why"), [
    ("8080-8082:80-81", "host range has 3 ports and guest range 2; make them equal"),
    ("0:80", "host port 0 is out of range; use 1-65535"),
    ("8080:65536", "guest port 65536 is out of range; use 1-65535"),
    ("80:80/sctp", "unknown protocol 'sctp'; use tcp or udp"),
    ("300.1.1.1:80:80", "host address '300.1.1.1' is not an IPv4 address"),
    ("::1:80:80", "host address '::1' is not an IPv4 address"),
    ("80", "expected [HOSTIP:]HOSTPORT"),
    ("http:80", "host port 'http' is not a number"),
    ("90-80:90-80", "host range 90-80 ends before it starts"),
])
def test_parse_publish_errors_say_what_and_how_to_fix(text: str, why: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_publish(text)
    assert why in str(err.value)
    assert repr(text) in str(err.value)


def test_bind_points_mappings_at_a_guest() -> None:
    [m] = bind(parse_publish("8080:80"), "web", "10.88.0.2", "att:1")
    assert m == PortMapping("web", "10.88.0.2", "tcp", 8080, 80, None, "att:1")
    assert m.text() == "0.0.0.0:8080->80/tcp" and not m.host_only
    assert PortMapping("web", "10.88.0.2", "tcp", 1, 1, "127.0.0.1").host_only


def test_port_conflicts() -> None:
    wild = PortMapping("web", "10.88.0.2", "tcp", 8080, 80, None, "att:1")
    local = PortMapping("web", "10.88.0.3", "tcp", 8081, 80, "127.0.0.1", "att:2")
    port_conflicts([wild, local], [wild])  # the very same mapping again
    port_conflicts([wild, local], [PortMapping("web", "10.88.0.4", "udp", 8080, 80, None, "att:3")])
    port_conflicts([local], [PortMapping("web", "10.88.0.4", "tcp", 8081, 80, "192.168.1.5", "att:3")])
    with pytest.raises(Conflict, match=r"host port 127.0.0.1:8080 is already published \(as 0.0.0.0:8080->80/tcp"):
        port_conflicts([wild], [PortMapping("web", "10.88.0.4", "tcp", 8080, 80, "127.0.0.1", "att:3")])
    with pytest.raises(Conflict, match=r"already published \(as 127.0.0.1:8081->80/tcp"):
        port_conflicts([local], [PortMapping("web", "10.88.0.4", "tcp", 8081, 80, None, "att:3")])
    with pytest.raises(Conflict):
        port_conflicts([], [wild, PortMapping("web", "10.88.0.9", "tcp", 8080, 81, None, "att:9")])


def test_steps_round_trip_through_the_journal() -> None:
    net = NetworkRules("web", "wwweb", "10.88.0.0/24", "10.88.0.1", icc=False)
    port = PortMapping("web", "10.88.0.2", "tcp", 8080, 80, None, "att:1")
    steps = (EnsureFirewallBase(), EnsureForwarding(), AddNetworkRules(net), RemoveNetworkRules(net),
             PublishPort(port), UnpublishPort(port), LinkNetworks("web", "db"), UnlinkNetworks("web", "db"))
    plan = Plan("test", "test", steps)
    assert plan_from_dict(plan.to_dict()) == plan


def test_dry_run_text() -> None:
    port = PortMapping("web", "10.88.0.2", "tcp", 8080, 80, "127.0.0.1", "att:1")
    step = PublishPort(port)
    assert step.describe() == "publish 127.0.0.1:8080->80/tcp to 10.88.0.2 on network web (wirework:att:1)"
    assert step.commands() == [
        "nft 'add element inet wirework hostport_addr { 127.0.0.1 . tcp . 8080 comment \"wirework:att:1\" : 10.88.0.2 }'",
        "nft 'add element inet wirework hostport_port { 127.0.0.1 . tcp . 8080 comment \"wirework:att:1\" : 80 }'",
    ]
    net = NetworkRules("web", "wwweb", "10.88.0.0/24", "10.88.0.1", icc=False)
    assert AddNetworkRules(net).describe() == "add firewall rules of network web on wwweb (10.88.0.0/24, masquerade, no-icc)"
    cmds = AddNetworkRules(net).commands()
    assert "nft 'add rule inet wirework net-web-from oifname \"wwweb\" drop comment \"wirework:net:web\"'" in cmds
    assert "nft 'add element bridge wirework noicc { 10.88.0.0/24 . 10.88.0.0/24 comment \"wirework:net:web\" }'" in cmds
    assert cmds[-2] == "sysctl -w net.ipv4.conf.wwweb.route_localnet=1"

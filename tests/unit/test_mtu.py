"""Tunnel overhead and MTU (pure functions), and the route lookup that finds the underlay."""

from __future__ import annotations

import pytest

from wirework.errors import InvalidInput
from wirework.model.host import RouteInfo
from wirework.tunnels.ovs import route_dev, tunnel_mtu, tunnel_overhead, validate_tunnel


@pytest.mark.parametrize(("type_", "key", "ipv6", "overhead"), [
    ("gre", False, False, 38), ("gre", True, False, 42), ("vxlan", False, False, 50), ("vxlan", True, False, 50),
    ("geneve", False, False, 50), ("gre", False, True, 58), ("vxlan", False, True, 70),
])
def test_overhead(type_: str, key: bool, ipv6: bool, overhead: int) -> None:
    assert tunnel_overhead(type_, key=key, ipv6=ipv6) == overhead


def test_mtu_matches_what_was_measured() -> None:
    # ENVIRONMENT.md: userspace GRE 1462, VXLAN 1450 over a 1500 underlay.
    assert tunnel_mtu(1500, "gre") == 1462
    assert tunnel_mtu(1500, "vxlan") == 1450
    assert tunnel_mtu(9000, "gre", key=True) == 8958


def test_mtu_refuses_nonsense() -> None:
    with pytest.raises(InvalidInput):
        tunnel_mtu(600, "vxlan")
    with pytest.raises(InvalidInput):
        tunnel_overhead("ipip")


def test_route_dev_longest_prefix_in_main_table() -> None:
    routes = [
        RouteInfo("default", "10.0.0.1", "eth0"),
        RouteInfo("10.99.0.0/24", "", "eth1"),
        RouteInfo("10.99.0.0/16", "", "eth2"),
        RouteInfo("10.99.0.0/25", "", "eth3", table=100),
    ]
    assert route_dev(routes, "10.99.0.2") == "eth1"
    assert route_dev(routes, "10.99.1.2") == "eth2"
    assert route_dev(routes, "8.8.8.8") == "eth0"
    assert route_dev(routes[1:], "8.8.8.8") is None


def test_validate_tunnel_names_ports_and_checks_input() -> None:
    spec = validate_tunnel("obr0", "10.99.0.2", type_="vxlan", key=5)
    assert spec.port == "vxl0a630002" and spec.key == 5
    assert validate_tunnel("obr0", "192.168.115.6").port == "grec0a87306"
    for bad in ({"remote": "nope"}, {"remote": "10.0.0.1", "type_": "ipip"}, {"remote": "10.0.0.1", "key": -1}):
        with pytest.raises(InvalidInput):
            validate_tunnel("obr0", **bad)

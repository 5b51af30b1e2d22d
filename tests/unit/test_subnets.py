"""Subnet choice (S4): pure logic over what the host already uses."""

from __future__ import annotations

import ipaddress

import pytest

from wirework.errors import Conflict, InvalidInput
from wirework.networks.subnets.pools import (
    DEFAULT_POOLS,
    Occupied,
    check_subnet,
    gateway_for,
    ip_range_for,
    parse_pools,
    pick_subnet,
)


def test_default_pools_are_dockers() -> None:
    pools = parse_pools(DEFAULT_POOLS)
    first = [str(c) for p in pools for c in p.candidates()][:16]
    assert first[0] == "172.17.0.0/16" and first[14] == "172.31.0.0/16" and first[15] == "192.168.0.0/20"


def test_pick_first_free_and_explain_every_skip() -> None:
    occupied = [
        Occupied("172.17.0.0/16", "Docker network bridge (172.17.0.0/16)"),
        Occupied("172.18.5.0/24", "route 172.18.5.0/24 via 10.0.0.1 dev tun0 (table 100)"),
        Occupied("172.19.0.53/32", "DNS server 172.19.0.53 (/etc/resolv.conf)"),
        Occupied("0.0.0.0/0", "default route"),  # overlaps everything; never counts
    ]
    choice = pick_subnet(parse_pools(DEFAULT_POOLS), occupied)
    assert choice.subnet == "172.20.0.0/16"
    assert choice.skipped == (
        ("172.17.0.0/16", "Docker network bridge (172.17.0.0/16)"),
        ("172.18.0.0/16", "route 172.18.5.0/24 via 10.0.0.1 dev tun0 (table 100)"),
        ("172.19.0.0/16", "DNS server 172.19.0.53 (/etc/resolv.conf)"),
    )


def test_configured_pool_of_24s() -> None:
    pools = parse_pools("10.200.0.0/16:24")
    occupied = [Occupied("10.200.0.0/23", "address 10.200.1.1/23 on eth1")]
    assert pick_subnet(pools, occupied).subnet == "10.200.2.0/24"


def test_exhausted_pools() -> None:
    with pytest.raises(Conflict, match="no free subnet"):
        pick_subnet(parse_pools("10.9.0.0/23:24"), [Occupied("10.9.0.0/23", "route 10.9.0.0/23 dev eth0 (table main)")])


@pytest.mark.parametrize("text", ["10.0.0.0/8", "10.0.0.0/8:33", "10.0.0.1/8:16", "x:16", ""])
def test_bad_pools(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_pools(text)


def test_explicit_subnet_collision_names_the_route_and_force_overrides() -> None:
    occ = [Occupied("192.168.1.0/24", "route 192.168.1.0/24 dev eth0 (table main)")]
    net = ipaddress.ip_network("192.168.0.0/16")
    with pytest.raises(Conflict, match=r"route 192.168.1.0/24 dev eth0.*--force"):
        check_subnet(net, occ, force=False)
    assert "kept because of --force" in check_subnet(net, occ, force=True)[0]


def test_wirework_networks_never_overlap_even_forced() -> None:
    occ = [Occupied("10.1.0.0/16", "wirework network a (10.1.0.0/16)")]
    with pytest.raises(Conflict, match="not even with --force"):
        check_subnet(ipaddress.ip_network("10.1.2.0/24"), occ, force=True)


def test_gateway_and_range() -> None:
    net = ipaddress.ip_network("10.5.0.0/24")
    assert gateway_for(net, None) == "10.5.0.1"
    assert gateway_for(net, "10.5.0.254") == "10.5.0.254"
    for bad in ("10.6.0.1", "10.5.0.0", "10.5.0.255", "nope"):
        with pytest.raises(InvalidInput):
            gateway_for(net, bad)
    assert ip_range_for(net, "10.5.0.128/25") == "10.5.0.128/25"
    with pytest.raises(InvalidInput, match="not inside the subnet"):
        ip_range_for(net, "10.5.1.0/25")

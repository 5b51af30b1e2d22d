"""Small pure pieces of the cluster front: durations, host ids, public-IP detection."""

from __future__ import annotations

from pathlib import Path

import pytest

from wirework.cli.commands.cluster import parse_duration
from wirework.cluster.converge import detect_public_ip
from wirework.cluster.hostid import cluster_host_id
from wirework.errors import InvalidInput
from wirework.model.addr import parse_cidr
from wirework.model.host import RouteSpec
from wirework.testing import FakeHost


@pytest.mark.parametrize(("text", "seconds"), [("10s", 10.0), ("10", 10.0), ("1500ms", 1.5), ("2m", 120.0)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("text", "why"), [("ten", "write it as 10s"), ("500ms", "whole seconds")])
def test_bad_durations(text: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        parse_duration(text)


def test_host_ids(tmp_path: Path) -> None:
    machine = tmp_path / "machine-id"
    machine.write_text("0123456789abcdef\n")
    assert cluster_host_id("wwl-lab-h1") == "wwl-lab-h1"
    assert cluster_host_id(None, "my host/1") == "my-host-1"
    real = cluster_host_id(None, machine_id_path=str(machine))
    assert real.endswith("-01234567") and "/" not in real
    assert not cluster_host_id(None, machine_id_path=str(tmp_path / "none")).endswith("-01234567")


def test_public_ip_from_the_default_route_else_the_only_address() -> None:
    host = FakeHost()
    host.net._add(None, "eth0", "")
    host.net._add(None, "eth1", "")
    host.net.add_address("eth0", parse_cidr("192.168.1.5/24"))
    assert detect_public_ip(host) == "192.168.1.5"  # the only address
    host.net.add_address("eth1", parse_cidr("10.0.0.5/24"))
    with pytest.raises(InvalidInput, match=r"several \(192.168.1.5, 10.0.0.5\); give --public-ip"):
        detect_public_ip(host)
    host.net.add_route(RouteSpec("default", gateway="192.168.1.1", dev="eth0"))
    assert detect_public_ip(host) == "192.168.1.5"

"""OVS tunnels (S10) on the real kernel: two "hosts", each with its own private OVS instance
(userspace datapath), an underlay segment between them, a guest on each side."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import Namespaces, ping, sh
from wirework.kernel.ovs_instance import OvsInstance, default_rundir, start_instance

UNDERLAY = {"a": "10.99.0.1", "b": "10.99.0.2"}
GUESTS = {"a": "172.17.1.10", "b": "172.17.1.20"}


@pytest.fixture
def two_hosts(netns: Namespaces) -> Iterator[dict[str, tuple[str, str, OvsInstance]]]:
    """{"a": (host_ns, guest_ns, instance), "b": ...} with eth0 of a and b on one segment."""
    made: dict[str, tuple[str, str, OvsInstance]] = {}
    hosts = {side: netns(f"t{side}") for side in "ab"}
    sh("ip", "link", "add", "eth0", "netns", hosts["a"], "type", "veth", "peer", "name", "eth0", "netns", hosts["b"])
    try:
        for side, host in hosts.items():
            sh("ip", "-n", host, "addr", "add", f"{UNDERLAY[side]}/24", "dev", "eth0")
            sh("ip", "-n", host, "link", "set", "eth0", "up")
            made[side] = (host, netns(f"g{side}"), start_instance(host))  # default rundir: found by --netns
        yield made
    finally:
        for host, _, inst in made.values():
            inst.stop()
            shutil.rmtree(default_rundir(host), ignore_errors=True)


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WIREWORK_NO_SERVICE": "1"}
    return subprocess.run([sys.executable, "-m", "wirework.cli.main", *argv], capture_output=True, text=True,
                          env=env, timeout=60)


def reaches(guest: str, addr: str, tries: int = 8) -> bool:
    """The first packets wait for ARP and for OVS to learn the underlay's new route."""
    return any(ping(guest, addr) for _ in range(tries))


def peer(side: str) -> str:
    return UNDERLAY["b" if side == "a" else "a"]


@pytest.mark.parametrize(("type_", "mtu"), [("gre", 1462), ("vxlan", 1450), ("geneve", 1450)])
def test_tunnel_guests_ping_tcp_and_mtu(two_hosts, state_dir: str, type_: str, mtu: int) -> None:  # type: ignore[no-untyped-def]
    from wirework.api import Wirework

    for side, (host, guest, _inst) in two_hosts.items():
        with Wirework(host, state_dir=state_dir) as ww:
            ww.attach(f"/run/netns/{guest}", "obr0", ip=f"{GUESTS[side]}/24", create="ovs")
    for side, (host, _, _) in two_hosts.items():
        common = ["--netns", host, "--state-dir", state_dir]
        dry = cli("tunnel", "add", "obr0", "--type", type_, "--remote", peer(side), "--dry-run", *common)
        assert dry.returncode == 0, dry.stderr
        assert f"MTU inside the tunnel: {mtu}" in dry.stdout and "ul-eth0" in dry.stdout
        out = cli("tunnel", "add", "obr0", "--type", type_, "--remote", peer(side), *common)
        assert out.returncode == 0, out.stderr
        listing = cli("tunnel", "ls", *common).stdout
        assert type_ in listing and "ok" in listing
    ga, gb = two_hosts["a"][1], two_hosts["b"][1]
    assert reaches(ga, GUESTS["b"])
    # Every interface of the tunnelled network got the tunnel MTU, the guest's included.
    assert f"mtu {mtu} " in sh("ip", "link", "show", "eth1", ns=ga)
    # The largest packet fits the tunnel; one byte more is refused at the guest instead of vanishing.
    assert ping(ga, GUESTS["b"], size=mtu - 28, dont_fragment=True)
    assert not ping(ga, GUESTS["b"], size=mtu - 27, dont_fragment=True)
    # TCP works (the guests' TX checksum offload is off on the userspace bridge).
    sh("iperf3", "-s", "-1", "-D", "-p", "5301", ns=gb)
    report = sh("iperf3", "-c", GUESTS["b"], "-p", "5301", "-t", "1", "-J", ns=ga)
    assert json.loads(report)["end"]["sum_received"]["bytes"] > 1_000_000


def test_tunnel_rm_restores_mtu_and_without_fix_big_packets_vanish(two_hosts, state_dir: str) -> None:  # type: ignore[no-untyped-def]
    from wirework.api import Wirework

    for side, (host, guest, _) in two_hosts.items():
        with Wirework(host, state_dir=state_dir) as ww:
            ww.attach(f"/run/netns/{guest}", "obr0", ip=f"{GUESTS[side]}/24", create="ovs")
            ww.tunnel_add("obr0", peer(side), type_="gre", key=7)
            assert ww.tunnel_ls()[0]["mtu"] == 1458  # GRE with a key: 4 bytes more
    ga = two_hosts["a"][1]
    assert reaches(ga, GUESTS["b"])
    assert ping(ga, GUESTS["b"], size=1458 - 28, dont_fragment=True)
    for side, (host, _, _) in two_hosts.items():
        out = cli("tunnel", "rm", "obr0", peer(side), "--netns", host, "--state-dir", state_dir)
        assert out.returncode == 0, out.stderr
        assert "mtu 1500 " in sh("ip", "link", "show", "obr0", ns=host)
        with Wirework(host, state_dir=state_dir) as ww:
            assert ww.tunnel_ls() == []
            assert not [p for p in ww.host.ovs.ports("obr0") if p.startswith("gre")]
            # The underlay stays (shared); `uplink --undo` gives eth0 its address back.
            assert ww.uplink_undo("ul-eth0", "eth0")
        assert f"{UNDERLAY[side]}/24" in sh("ip", "-o", "addr", "show", "eth0", ns=host)
    assert "mtu 1500 " in sh("ip", "link", "show", "eth1", ns=ga)


def test_doctor_reports_an_mtu_that_would_black_hole_the_tunnel(two_hosts, state_dir: str) -> None:  # type: ignore[no-untyped-def]
    from wirework.api import Wirework

    host, guest, _ = two_hosts["a"]
    with Wirework(host, state_dir=state_dir) as ww:
        ww.attach(f"/run/netns/{guest}", "obr0", ip=f"{GUESTS['a']}/24", create="ovs")
        ww.tunnel_add("obr0", peer("a"), type_="vxlan")
        assert "MTU above" not in cli("doctor", "--netns", host, "--state-dir", state_dir).stdout
    sh("ip", "link", "set", "eth1", "mtu", "1500", ns=guest)  # someone "fixes" the guest by hand
    out = cli("doctor", "--netns", host, "--state-dir", state_dir)
    assert out.returncode != 0 and "MTU above 1450" in out.stdout and "vxlan tunnel" in out.stdout, out.stdout
    assert f"eth1 in /run/netns/{guest}" in out.stdout

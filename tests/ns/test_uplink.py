"""Uplink (S9) on the real kernel: a "host" namespace whose NIC is a veth to a "LAN" namespace
holding the gateway. Addresses and routes move, connectivity stays, the watchdog reverts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from tests.conftest import Namespaces, sh, snapshot

GW = "192.168.77.1"


def make_host(netns: Namespaces) -> tuple[str, str]:
    host, lan = netns("uh"), netns("ul")
    for ns in (host, lan):  # no IPv6 DAD: snapshots must not change while a test runs
        sh("sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0", ns=ns)
    sh("ip", "link", "add", "eth0", "netns", host, "type", "veth", "peer", "name", "lan0", "netns", lan)
    sh("ip", "-n", lan, "addr", "add", f"{GW}/24", "dev", "lan0")
    sh("ip", "-n", lan, "link", "set", "lan0", "up")
    for cidr in ("192.168.77.10/24", "192.168.77.11/24"):
        sh("ip", "-n", host, "addr", "add", cidr, "dev", "eth0")
    sh("ip", "-n", host, "link", "set", "eth0", "up")
    sh("ip", "-n", host, "route", "add", "default", "via", GW)
    sh("ip", "-n", host, "route", "add", "10.50.0.0/16", "via", GW, "table", "100")
    sh("ip", "-n", host, "route", "add", "10.60.0.0/16", "dev", "eth0", "metric", "50", "proto", "static")
    return host, lan


def cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "WIREWORK_NO_SERVICE": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "wirework.cli.main", *argv], capture_output=True, text=True,
                          env=full_env, timeout=60)


def moved(host: str, bridge: str) -> bool:
    addrs = sh("ip", "-o", "-4", "addr", "show", "dev", bridge, ns=host)
    routes = sh("ip", "route", "show", "table", "all", ns=host)
    return ("192.168.77.10/24" in addrs and "192.168.77.11/24" in addrs and f"default via {GW} dev {bridge}" in routes
            and f"10.50.0.0/16 via {GW} dev {bridge} table 100" in routes and "proto static" in routes)


def wait_for(cond: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def test_uplink_moves_everything_and_confirm_keeps_it(netns: Namespaces, state_dir: str) -> None:
    host, _ = make_host(netns)
    common = ["--netns", host, "--state-dir", state_dir]
    out = cli("uplink", "br0", "eth0", "--confirm-within", "3s", *common)
    assert out.returncode == 0, out.stderr
    assert f"{GW} answers" in out.stdout
    assert moved(host, "br0")
    assert "master br0" in sh("ip", "-o", "link", "show", "eth0", ns=host)
    assert sh("ip", "-o", "-4", "addr", "show", "dev", "eth0", ns=host) == ""
    assert subprocess.run(["ip", "netns", "exec", host, "ping", "-c1", "-W2", GW], capture_output=True).returncode == 0
    assert cli("uplink", "--confirm", "br0", *common).returncode == 0
    time.sleep(4)  # past the deadline: a confirmed uplink stays
    assert moved(host, "br0")
    listing = cli("uplink", "--list", *common).stdout
    assert "confirmed" in listing
    # Running it again is a no-op.
    again = cli("uplink", "br0", "eth0", "--confirm-within", "0", *common)
    assert again.returncode == 0 and "already" in again.stdout


def test_unconfirmed_uplink_reverts_by_itself(netns: Namespaces, state_dir: str) -> None:
    host, _ = make_host(netns)
    before = snapshot(host)
    out = cli("uplink", "br0", "eth0", "--confirm-within", "2s", "--netns", host, "--state-dir", state_dir)
    assert out.returncode == 0, out.stderr
    assert moved(host, "br0")
    assert wait_for(lambda: snapshot(host) == before, 6), snapshot(host)


def test_gateway_stops_answering_reverts_within_timeout(netns: Namespaces, state_dir: str) -> None:
    host, lan = make_host(netns)
    before = snapshot(host)
    # A deadline far beyond the wait below: a revert seen within it can only be the watchdog
    # noticing the lost gateway (no duration is asserted).
    out = cli("uplink", "br0", "eth0", "--confirm-within", "3600s", "--netns", host, "--state-dir", state_dir)
    assert out.returncode == 0, out.stderr
    sh("ip", "-n", lan, "addr", "del", f"{GW}/24", "dev", "lan0")  # the gateway stops answering
    assert wait_for(lambda: snapshot(host) == before, 60), snapshot(host)


def test_no_answer_right_away_puts_everything_back(netns: Namespaces, state_dir: str) -> None:
    host, _ = make_host(netns)
    before = snapshot(host)
    out = cli("uplink", "br0", "eth0", "--check", "192.168.77.99", "--confirm-within", "0",
              "--netns", host, "--state-dir", state_dir)
    assert out.returncode != 0 and "put back" in out.stderr
    assert snapshot(host) == before


def test_undo_and_dry_run(netns: Namespaces, state_dir: str) -> None:
    host, _ = make_host(netns)
    before = snapshot(host)
    common = ["--netns", host, "--state-dir", state_dir]
    dry = cli("uplink", "br0", "eth0", "--dry-run", "--format", "commands", *common)
    assert dry.returncode == 0 and f"ip -n {host} link set eth0 master br0" in dry.stdout
    assert snapshot(host) == before
    assert cli("uplink", "br0", "eth0", "--confirm-within", "0", *common).returncode == 0
    assert moved(host, "br0")
    undo = cli("uplink", "--undo", "br0", "eth0", *common)
    assert undo.returncode == 0, undo.stderr
    assert snapshot(host) == before


def test_failure_at_each_step_leaves_host_as_before(netns: Namespaces, state_dir: str) -> None:
    from wirework.api import Wirework
    from wirework.plan.executor import FaultHook

    host, _ = make_host(netns)
    before = snapshot(host)
    with Wirework(host, state_dir=state_dir) as ww:
        count = len(ww.uplink("br0", "eth0", dry_run=True).plan.steps)
    assert count == 13
    for index in range(count):
        def hook(i: int, _step: object, at: int = index) -> None:
            if i == at:
                raise RuntimeError(f"injected at {at}")

        fault: FaultHook = hook
        with Wirework(host, state_dir=state_dir, fault=fault) as ww, pytest.raises(Exception, match="injected"):
            ww.uplink("br0", "eth0")
        assert snapshot(host) == before, f"after a failure at step {index}"
    # And one through the CLI's environment switch.
    out = cli("uplink", "br0", "eth0", "--netns", host, "--state-dir", state_dir, env={"WIREWORK_FAIL_AT": "9"})
    assert out.returncode != 0 and snapshot(host) == before


@pytest.mark.parametrize("ovs", [True])
def test_uplink_onto_ovs_bridge(ovs_host, netns: Namespaces, state_dir: str, ovs: bool) -> None:  # type: ignore[no-untyped-def]
    from wirework.api import Wirework

    host, inst = ovs_host
    lan = netns("ol")
    sh("ip", "link", "add", "eth0", "netns", host, "type", "veth", "peer", "name", "lan0", "netns", lan)
    sh("ip", "-n", lan, "addr", "add", f"{GW}/24", "dev", "lan0")
    sh("ip", "-n", lan, "link", "set", "lan0", "up")
    sh("ip", "-n", host, "addr", "add", "192.168.77.10/24", "dev", "eth0")
    sh("ip", "-n", host, "link", "set", "eth0", "up")
    sh("ip", "-n", host, "route", "add", "default", "via", GW)
    addrs_before = sh("ip", "-o", "-4", "addr", ns=host)
    with Wirework(host, state_dir=state_dir, ovs_db=inst.db_socket) as ww:
        out = ww.uplink("obr0", "eth0", ovs=ovs)
        assert out.reachable is True
        assert "eth0" in ww.host.ovs.ports("obr0")
        assert f"default via {GW} dev obr0" in sh("ip", "route", ns=host)
        assert ww.uplink_undo("obr0", "eth0")
        assert not ww.host.ovs.bridge_exists("obr0")
    assert sh("ip", "-o", "-4", "addr", ns=host) == addrs_before
    assert f"default via {GW} dev eth0" in sh("ip", "route", ns=host)


def test_uplink_needs_no_ping_program(netns: Namespaces, state_dir: str) -> None:
    """Without `ping` installed every uplink reverted, saying the gateway "did not answer":
    the check now sends its echo request itself, from inside the host's namespace."""
    from wirework.api import Wirework
    from wirework.kernel.proc import Processes

    class NoPing(Processes):
        def which(self, program: str) -> str | None:
            return None if program == "ping" else super().which(program)

        def run_in(self, ns: str | None, argv: list[str], **kw: object) -> str:
            if argv[0] == "ping":
                raise AssertionError("the check ran the ping program")
            return super().run_in(ns, argv, **kw)  # type: ignore[arg-type]

    host, _ = make_host(netns)
    before = snapshot(host)
    with Wirework(host, state_dir=state_dir) as ww:
        ww.host.__dict__["proc"] = NoPing(ww.host.netns_path)
        out = ww.uplink("br0", "eth0")
        assert out.reachable is True and moved(host, "br0")
        assert ww.uplink_undo("br0", "eth0")
        assert snapshot(host) == before
        with pytest.raises(Exception, match="no answer from 192.168.77.99"):  # and a real silence is still one
            ww.uplink("br0", "eth0", check="192.168.77.99")
    assert snapshot(host) == before


@pytest.mark.parametrize("target", ["192.168.77.1", "fd77::1"])
def test_in_process_echo_from_inside_a_namespace(netns: Namespaces, target: str) -> None:
    from wirework.kernel.host import KernelHost

    host, lan = make_host(netns)
    sh("ip", "-n", lan, "addr", "add", "fd77::1/64", "dev", "lan0", "nodad")
    sh("ip", "-n", host, "addr", "add", "fd77::10/64", "dev", "eth0", "nodad")
    kernel = KernelHost(host)
    try:
        assert kernel.icmp.echo(target, timeout=2.0)
        assert not kernel.icmp.echo("fd77::99" if ":" in target else "192.168.77.99", timeout=0.3)
    finally:
        kernel.close()

"""DHCP leases with a real server (busybox udhcpd, short leases) in a throwaway "host" namespace:
the lease is recorded, renewed before it runs out (by `renew_leases`, which the resident
service runs), and `doctor` reports a lease that expired with nobody renewing it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Namespaces, sh
from tests.ns.helpers import cli
from wirework.api import Wirework


@dataclass
class DhcpSite:
    host: str
    state_dir: str
    tmp: Path


def start_udhcpd(host: str, tmp: Path, lease: int) -> subprocess.Popen[bytes]:
    conf = tmp / "udhcpd.conf"
    (tmp / "leases").write_text("")
    conf.write_text(f"start 10.45.0.50\nend 10.45.0.60\ninterface br0\nlease_file {tmp / 'leases'}\n"
                    f"pidfile {tmp / 'udhcpd.pid'}\nmin_lease 1\noption subnet 255.255.255.0\n"
                    f"option router 10.45.0.1\noption lease {lease}\n")
    server = subprocess.Popen(["ip", "netns", "exec", host, "busybox", "udhcpd", "-f", str(conf)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while ":67 " not in sh("ss", "-lun", ns=host):
        assert time.monotonic() < deadline and server.poll() is None, "udhcpd did not start"
        time.sleep(0.05)
    return server


@pytest.fixture
def site(ww: Wirework, state_dir: str, tmp_path: Path) -> Iterator[DhcpSite]:
    host = ww.host.netns
    assert host is not None
    sh("ip", "link", "add", "br0", "type", "bridge", ns=host)
    sh("ip", "addr", "add", "10.45.0.1/24", "dev", "br0", ns=host)
    sh("ip", "link", "set", "br0", "up", ns=host)
    server = start_udhcpd(host, tmp_path, lease=4)
    yield DhcpSite(host, state_dir, tmp_path)
    server.terminate()
    server.wait(timeout=10)


def wait_for(cond: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    return cond()


def test_a_lease_is_recorded_and_renewed_before_it_runs_out(ww: Wirework, site: DhcpSite, netns: Namespaces) -> None:
    g = netns("g")
    att = ww.attach(g, "br0", dhcp=True).attachment
    lease = att.dhcp_lease
    assert lease is not None and lease["seconds"] == 4 and lease["server"] == "10.45.0.1"
    assert lease["ip"] == att.cidr and att.cidr in sh("ip", "addr", ns=g)
    assert ww.renew_leases(now=lease["obtained"] + 1) == []  # not due before half its time
    done = ww.renew_leases(now=lease["obtained"] + 2.5)
    assert done == [f"renewed the DHCP lease of {g} eth1 ({att.cidr}, 4 s)"]
    renewed = ww.ls()[0].attachment.dhcp_lease
    assert renewed is not None and renewed["obtained"] > lease["obtained"] and renewed["ip"] == att.cidr
    assert att.cidr in sh("ip", "addr", ns=g)
    ww.detach(g)
    assert att.cidr not in sh("ip", "addr", ns=g)


def test_doctor_reports_an_expired_lease_with_its_fix(ww: Wirework, site: DhcpSite, netns: Namespaces) -> None:
    g = netns("g")
    att = ww.attach(g, "br0", dhcp=True).attachment

    def expired() -> list[dict[str, str]]:
        out = cli(site.host, site.state_dir, "doctor", "--json", check=False).stdout
        return [f for f in json.loads(out)["findings"] if f["id"] == "dhcp-lease-expired"]

    assert expired() == []
    assert wait_for(lambda: bool(expired()), 30)  # nobody renews it: no service in this test
    finding = expired()[0]
    assert finding["what"].startswith(f"the DHCP lease of {g} eth1 ({att.cidr}) expired")
    assert "wirework service start" in finding["fix"]
    ww.renew_leases()  # what the service does
    assert expired() == []


def test_the_service_renews_leases_by_itself(site: DhcpSite, netns: Namespaces) -> None:
    g = netns("g")
    sock = str(site.tmp / "svc.sock")
    env = {**os.environ, "WIREWORK_SOCKET": sock, "WIREWORK_RENEW_INTERVAL": "0.5"}
    env.pop("WIREWORK_NO_SERVICE", None)
    service = subprocess.Popen([sys.executable, "-m", "wirework.cli.main", "service", "run", "--socket", sock,
                                "--no-docker-events"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: os.path.exists(sock), 20), "the service did not start"
        argv = ["pipework", "br0", g, "dhcp", "--netns", site.host, "--state-dir", site.state_dir]
        done = subprocess.run([sys.executable, "-m", "wirework.cli.main", *argv], env=env, capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        with Wirework(netns=site.host, state_dir=site.state_dir) as ww:
            first = ww.ls()[0].attachment.dhcp_lease
            assert first is not None

            def renewed() -> bool:
                lease = ww.ls()[0].attachment.dhcp_lease
                return lease is not None and lease["obtained"] > first["obtained"]

            assert wait_for(renewed, 30), "the service did not renew the lease"
    finally:
        service.terminate()
        service.wait(timeout=20)

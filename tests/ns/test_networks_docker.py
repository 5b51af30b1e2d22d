"""A running Docker `--net=none` container joins wirework networks after the fact (S1); asking
to swap a container's namespace for the host's or another container's is refused clearly.

The "host" is still a throwaway namespace; only the containers are Docker's (uniquely named,
removed one at a time, every Docker call with a timeout).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.conftest import RUN_ID, Namespaces, ping, sh
from tests.ns.helpers import cli
from wirework.api import Wirework
from wirework.errors import InvalidInput

IMAGE = os.environ.get("WIREWORK_TEST_IMAGE", "wirework-busybox:latest")


def docker(*args: str) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr.strip()}"
    return done.stdout.strip()


@pytest.fixture
def containers() -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for name in made:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60, check=False)


def _run(made: list[str], label: str, net: str) -> str:
    name = f"wwt{RUN_ID}{label}"
    docker("run", "-d", "--name", name, f"--net={net}", IMAGE, "sleep", "600")
    made.append(name)
    return name


def test_net_none_container_connected_after_the_fact(ww: Wirework, containers: list[str]) -> None:
    c = _run(containers, "none", "none")
    ww.network_create("dock", subnet="10.95.0.0/24")
    ww.network_create("dock2", subnet="10.96.0.0/24")
    ep = ww.connect("dock", f"docker:{c}", default_route=True).endpoint
    ww.connect("dock2", f"docker:{c}")
    assert (ep.ifname, ep.address) == ("eth0", "10.95.0.2")
    addrs = docker("exec", c, "ip", "-o", "-4", "addr")
    assert "eth0    inet 10.95.0.2/24" in addrs and "eth1    inet 10.96.0.2/24" in addrs
    assert "default via 10.95.0.1 dev eth0" in docker("exec", c, "ip", "route")
    assert ww.host.netns is not None and ping(ww.host.netns, "10.95.0.2")
    (guest,) = ww.network_inspect("dock")["guests"]
    assert (guest["guest"], guest["mode"]) == (c, "none")
    ww.disconnect("dock", c)
    ww.disconnect("dock2", c)
    assert "eth0" not in docker("exec", c, "ip", "-o", "link")


def test_host_and_container_mode_containers_are_refused(ww: Wirework, containers: list[str]) -> None:
    ww.network_create("dock3", subnet="10.97.0.0/24")
    h = _run(containers, "host", "host")
    with pytest.raises(InvalidInput, match="shares the host's network namespace"):
        ww.connect("dock3", f"docker:{h}")
    base = _run(containers, "base", "none")
    shared = _run(containers, "pod", f"container:{base}")
    with pytest.raises(InvalidInput, match="connect that guest instead"):
        ww.connect("dock3", f"docker:{shared}")
    with pytest.raises(InvalidInput, match="cannot be swapped for the host"):
        ww.connect("host", f"docker:{base}")


def test_restarted_container_is_wired_again_with_its_address(ww: Wirework, containers: list[str]) -> None:
    c = _run(containers, "rst", "none")
    ww.network_create("dock4", subnet="10.98.0.0/24")
    ww.connect("dock4", f"docker:{c}", ip="10.98.0.50", default_route=True, publish=["8080:80"])
    ww.connect("dock4", f"docker:{_run(containers, 'oth', 'none')}")  # takes the next dynamic address
    docker("restart", "-t", "0", c)  # a new network namespace, without any of our interfaces
    assert "10.98.0.50" not in docker("exec", c, "ip", "-o", "-4", "addr")
    report = ww.up()
    assert any("restarted, wired again with 10.98.0.50/24" in line for line in report)
    assert "eth0    inet 10.98.0.50/24" in docker("exec", c, "ip", "-o", "-4", "addr")
    assert "default via 10.98.0.1" in docker("exec", c, "ip", "route")
    (port,) = ww.ports(c)
    assert (port.host_port, port.guest_ip) == (8080, "10.98.0.50")


def test_gc_after_docker_rm_cleans_ports_leases_and_views(netns: Namespaces, state_dir: str,
                                                            containers: list[str]) -> None:
    """Issue 12: `docker rm` of a connected container, then gc: nothing of it is left anywhere."""
    host, other = netns("h"), netns("g")
    c = _run(containers, "gc", "none")
    cli(host, state_dir, "network", "create", "web", "--subnet", "10.95.7.0/24")
    cli(host, state_dir, "connect", "web", f"docker:{c}", "-p", "18102:80")
    # doctor's MTU fix is a command that reaches a container's namespace (by its PID).
    pid = docker("inspect", "-f", "{{.State.Pid}}", c)
    subprocess.run(["nsenter", "-t", pid, "-n", "ip", "link", "set", "eth0", "mtu", "1400"], check=True)
    found = json.loads(cli(host, state_dir, "doctor", "--json", check=False).stdout)["findings"]
    (fix,) = [f["fix"].split(",")[0] for f in found if f["id"] == "mtu-mismatch"]
    assert fix == f"nsenter -t {pid} -n ip link set eth0 mtu 1500"
    subprocess.run(["sh", "-c", fix], check=True)
    assert "mtu-mismatch" not in cli(host, state_dir, "doctor", "--json", check=False).stdout
    docker("rm", "-f", c)
    found = json.loads(cli(host, state_dir, "doctor", "--json", check=False).stdout)["findings"]
    gone = [f for f in found if f["id"] == "gone-guest"]
    assert len(gone) == 1 and c in gone[0]["what"] and "18102" in gone[0]["what"], found
    assert gone[0]["fix"] == f"wirework gc --netns {host}"
    out = cli(host, state_dir, "gc").stdout
    assert f"cleaned up: {c} from network web (10.95.7.2/24, ports 0.0.0.0:18102->80/tcp)" in out, out
    assert cli(host, state_dir, "port", c, check=False).returncode == 3
    info = json.loads(cli(host, state_dir, "network", "inspect", "web", "--json").stdout)
    assert info["guests"] == [] and info["leases"] == []
    assert "18102" not in sh("nft", "list", "map", "inet", "wirework", "port_addr", ns=host)
    assert not [f for f in json.loads(cli(host, state_dir, "doctor", "--json", check=False).stdout)["findings"]
                if f["id"] in ("gone-guest", "stale-nft-port", "stale-lease")]
    cli(host, state_dir, "connect", "web", f"netns:{other}", "-p", "18102:80")  # the port is free again

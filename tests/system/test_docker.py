"""pipework on real Docker containers (S7, S8), the resident service, and clean-up after removal.

Docker puts containers' host ends in the root namespace, so these tests use uniquely named
bridges, containers and a private state dir, and remove each thing they made by name. Docker
calls are serial with timeouts (dockerd 20.10 deadlocks under mass concurrent removal).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

from tests.conftest import RUN_ID, wirework_cli

IMAGE = os.environ.get("WIREWORK_TEST_IMAGE", "wirework-busybox:latest")
BRIDGE = f"brww{RUN_ID}"
OVS_BRIDGE = f"ovsww{RUN_ID}"


def docker(*args: str, check: bool = True) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


class Containers:
    def __init__(self) -> None:
        self.made: list[str] = []

    def run(self, label: str, *opts: str) -> str:
        name = f"wwt{RUN_ID}{label}"
        docker("run", "-d", "--name", name, *(opts or ("--net=none",)), IMAGE, "sleep", "600")
        self.made.append(name)
        return name

    def cleanup(self) -> None:
        for name in self.made:
            docker("rm", "-f", name, check=False)


@pytest.fixture
def containers() -> Iterator[Containers]:
    made = Containers()
    yield made
    made.cleanup()


@pytest.fixture
def env(state_dir: str) -> Iterator[dict[str, str]]:
    values = {"WIREWORK_STATE_DIR": state_dir}
    yield values
    # Whatever a failed test left: detach by record, then the bridges it named (tagged ones only).
    wirework_cli("gc", env=values, check=False)
    subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True, check=False)


def dexec(name: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", "exec", name, *argv], capture_output=True, text=True, timeout=30, check=False)


def test_seed_s7_two_net_none_containers_ping(containers: Containers, env: dict[str, str]) -> None:
    c1, c2 = containers.run("c1"), containers.run("c2")
    wirework_cli("pipework", BRIDGE, "-i", "eth1", c1, "10.199.114.100/24@10.199.114.1", env=env)
    wirework_cli("pipework", BRIDGE, "-i", "eth1", c2, "10.199.114.101/24@10.199.114.1", env=env)
    assert dexec(c1, "ping", "-c", "1", "-W", "2", "10.199.114.101").returncode == 0
    assert "10.199.114.100/24" in dexec(c1, "ip", "addr").stdout
    inspect = wirework_cli("inspect", c1, env=env).stdout
    assert "network mode none" in inspect and f"-> {BRIDGE} (bridge" in inspect
    rules = subprocess.run(["iptables", "-S", "DOCKER-USER"], capture_output=True, text=True).stdout
    assert f"wirework:bridge:{BRIDGE}" in rules
    # S8: a static route inside the container without --privileged, by container name
    wirework_cli("pipework", "route", c1, "add", "10.199.0.0/16", "dev", "eth1", "via", "10.199.114.1", env=env)
    assert "10.199.0.0/16 via 10.199.114.1 dev eth1" in dexec(c1, "ip", "route").stdout
    wirework_cli("detach", c1, env=env)
    wirework_cli("detach", c2, env=env)
    links = subprocess.run(["ip", "link"], capture_output=True, text=True).stdout
    assert BRIDGE not in links
    rules = subprocess.run(["iptables", "-S", "DOCKER-USER"], capture_output=True, text=True).stdout
    assert f"wirework:bridge:{BRIDGE}" not in rules


def test_stopped_and_host_mode_containers_are_refused(containers: Containers, env: dict[str, str]) -> None:
    stopped = containers.run("stopped")
    docker("stop", "-t", "0", stopped)
    out = wirework_cli("pipework", BRIDGE, stopped, "10.199.5.2/24", env=env, check=False)
    assert out.returncode == 3 and "is not running" in out.stderr and f"docker start {stopped}" in out.stderr
    hosty = containers.run("hostnet", "--net=host")
    out = wirework_cli("pipework", BRIDGE, hosty, "10.199.5.3/24", env=env, check=False)
    assert out.returncode == 2 and "--net=host" in out.stderr
    assert BRIDGE not in subprocess.run(["ip", "link"], capture_output=True, text=True).stdout


def test_restart_then_attach_again_gets_the_same_wiring(containers: Containers, env: dict[str, str]) -> None:
    c1 = containers.run("r1")
    first = wirework_cli("attach", c1, "--bridge", BRIDGE, "--ip", "10.199.6.2/24", "--mac", "U:r1", "--json",
                         env=env).stdout
    docker("restart", "-t", "0", c1)
    assert "restarted" in wirework_cli("ls", env=env).stdout  # waiting to be wired again
    again = wirework_cli("attach", c1, "--bridge", BRIDGE, "--ip", "10.199.6.2/24", "--mac", "U:r1", "--json",
                         env=env).stdout
    assert '"changed": true' in again and '"mac": "02:' in again
    assert first.split('"mac": ')[1][:20] == again.split('"mac": ')[1][:20]
    assert "10.199.6.2/24" in dexec(c1, "ip", "addr").stdout
    wirework_cli("detach", c1, env=env)


def test_service_answers_the_cli_and_removes_ovs_ports_of_removed_containers(
        containers: Containers, env: dict[str, str]) -> None:
    from wirework.kernel.ovs_instance import start_instance

    rundir = tempfile.mkdtemp(prefix="wwovs", dir="/tmp")
    ovs = start_instance(None, rundir)  # a private OVS serving the root namespace, its own db
    sock = os.path.join(rundir, "svc.sock")
    svc_env = {**env, "WIREWORK_SOCKET": sock, "WIREWORK_OVS_DB": ovs.db_socket}
    svc_env.pop("WIREWORK_NO_SERVICE", None)
    try:
        wirework_cli("service", "start", "--socket", sock, env=svc_env)
        c1 = containers.run("svc1")
        out = _cli_via_service(["pipework", OVS_BRIDGE, c1, "10.199.7.2/24"], svc_env)
        assert "attached" in out
        ports = _vsctl(ovs.db_socket, "list-ports", OVS_BRIDGE).split()
        assert len(ports) == 1
        docker("rm", "-f", c1)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _vsctl(ovs.db_socket, "list-ports", OVS_BRIDGE).split():
            time.sleep(0.2)
        assert _vsctl(ovs.db_socket, "list-ports", OVS_BRIDGE).split() == []
    finally:
        wirework_cli("service", "stop", "--socket", sock, env=svc_env, check=False)
        subprocess.run(["ovs-vsctl", f"--db=unix:{ovs.db_socket}", "--if-exists", "del-br", OVS_BRIDGE],
                       capture_output=True, check=False)
        ovs.stop()
        shutil.rmtree(rundir, ignore_errors=True)


def _cli_via_service(argv: list[str], env: dict[str, str]) -> str:
    import sys

    full = {"PATH": os.environ["PATH"], "WIREWORK_TRACE": "1", **env}
    done = subprocess.run([sys.executable, "-m", "wirework.cli.main", *argv], capture_output=True, text=True,
                          env=full, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "wirework: served by the service" in done.stderr
    return done.stdout


def _vsctl(db: str, *args: str) -> str:
    return subprocess.run(["ovs-vsctl", f"--db=unix:{db}", *args], capture_output=True, text=True,
                          timeout=20, check=False).stdout


def test_recovery_sweeps_forward_rules_of_bridges_that_are_gone(env: dict[str, str]) -> None:
    gone = f"brgone{RUN_ID}"
    rule = ["-i", gone, "-o", gone, "-m", "comment", "--comment", f"wirework:bridge:{gone}", "-j", "ACCEPT"]
    subprocess.run(["iptables", "-I", "DOCKER-USER", "1", *rule], check=True, capture_output=True)
    try:
        out = wirework_cli("gc", env=env).stdout
        assert f"bridge {gone}, which no longer exists" in out
        assert subprocess.run(["iptables", "-C", "DOCKER-USER", *rule], capture_output=True).returncode != 0
    finally:
        subprocess.run(["iptables", "-D", "DOCKER-USER", *rule], capture_output=True, check=False)


def test_docker_rm_then_run_again_gets_the_address_back_without_gc(containers: Containers,
                                                                   env: dict[str, str]) -> None:
    """pipework's everyday loop (issue 7.1): run, attach, rm -f, run under the same name, attach."""
    x = containers.run("again")
    wirework_cli("pipework", BRIDGE, "-i", "eth1", x, "10.199.8.5/24", env=env)
    other = containers.run("other")
    refused = wirework_cli("pipework", BRIDGE, "-i", "eth1", other, "10.199.8.5/24", env=env, check=False)
    assert refused.returncode == 4
    assert refused.stderr.strip() == f"wirework: address 10.199.8.5 is already used on {BRIDGE} by {x}; pick another"
    docker("rm", "-f", x)
    docker("run", "-d", "--name", x, "--net=none", IMAGE, "sleep", "600")
    wirework_cli("pipework", BRIDGE, "-i", "eth1", x, "10.199.8.5/24", env=env)  # no gc in between
    assert "10.199.8.5/24" in dexec(x, "ip", "addr").stdout
    wirework_cli("pipework", BRIDGE, "-i", "eth1", other, "10.199.8.6/24", env=env)
    assert dexec(other, "ping", "-c", "1", "-W", "2", "10.199.8.5").returncode == 0
    docker("rm", "-f", x)  # and a different container asking for the address of a removed one
    wirework_cli("pipework", BRIDGE, "-i", "eth2", other, "10.199.8.5/24", env=env)
    assert "10.199.8.5/24" in dexec(other, "ip", "addr").stdout
    rows = wirework_cli("ls", env=env).stdout
    assert x not in rows and "guest-gone" not in rows
    wirework_cli("detach", other, env=env)


def test_bridges_names_dockers_bridges_and_the_guests_on_wireworks(containers: Containers,
                                                                  env: dict[str, str]) -> None:
    import json

    c1 = containers.run("brs")
    net, named = f"wwt{RUN_ID}brs", f"wwt{RUN_ID}brn"
    net_id = docker("network", "create", net)  # its bridge is br-<id>
    docker("network", "create", "-o", f"com.docker.network.bridge.name=wwd{RUN_ID}", named)  # named by option
    try:
        wirework_cli("pipework", BRIDGE, "-i", "eth1", c1, "10.199.9.5/24", env=env)
        rows = {r["name"]: r for r in json.loads(wirework_cli("bridges", "--json", env=env).stdout)}
        assert rows[f"br-{net_id[:12]}"]["made_by"] == f"Docker network {net}"
        assert rows[f"wwd{RUN_ID}"]["made_by"] == f"Docker network {named}" and rows[f"wwd{RUN_ID}"]["kind"] == "linux"
        ours = rows[BRIDGE]
        assert ours["made_by"] == "wirework attach (pipework)"
        assert [p["guest"] for p in ours["ports"]] == [f"{c1} eth1"]
    finally:
        docker("network", "rm", net, check=False)
        docker("network", "rm", named, check=False)

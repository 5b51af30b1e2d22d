"""Cluster networks through Docker (issue 10 on issue 9): a service started with `--store` on a real
etcd runs this host's agent and serves the Docker plugin to a private dockerd.

`docker network create -d P --ipam-driver P --subnet S -o wirework.driver=vxlan NAME` defines
the cluster network in etcd; the service's agent leases this host's share of it and builds it;
`docker run --net NAME` containers get addresses of that share, the default route through the
host's gateway and the data plane's MTU, and reach each other. Refused in one line: `--ip`
outside the share, a definition that differs from the stored one, and (without a store) the
option itself. `docker network rm` leaves the definition to the other hosts; `wirework network rm
NAME --store URL --force` removes it cluster-wide and the agent takes the host's part down.

Containers of a real dockerd live in the machine's root namespace, so the agent is the real
host's: the network name, subnet and VNI are unique to this run, and everything made is removed.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cluster.topo import guest_ip
from tests.conftest import RUN_ID, Namespaces, ping, sh, wirework_cli
from tests.system.conftest import Service
from tests.system.dockerd import PrivateDockerd, wait_until

SEED = int(RUN_ID, 16)
SUBNET = f"10.{150 + SEED % 30}.0.0/16"
VNI = str(100000 + SEED % 1000000)


@pytest.fixture
def clustered(dockerd: PrivateDockerd, etcd_server: Any, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[tuple[Service, list[str]]]:
    """A service with the plugin and an agent on etcd (its own key prefix); the --store options."""
    store = ["--store", etcd_server.url, "--store-prefix", f"/wwdc/{uuid.uuid4().hex[:10]}/"]
    svc = Service(str(tmp_path_factory.mktemp("dcstate")), dockerd.host, plugin=True)
    svc.cli("service", "start", "--socket", svc.socket, *store, "--lease-ttl", "5s")
    try:
        yield svc, store
    finally:
        dockerd.remove_all()
        _remove_cluster_networks(svc, store)  # a failed test too: the agent takes its host's part down
        svc.remove()


def _remove_cluster_networks(svc: Service, store: list[str]) -> None:
    listed = svc.cli("network", "ls", "--json", *store, local=True, check=False)
    for net in json.loads(listed.stdout or "{}").get("cluster", []) if listed.returncode == 0 else []:
        svc.cli("network", "rm", net["name"], "--force", *store, local=True, check=False)


def _json(svc: Service, *argv: str) -> Any:
    return json.loads(svc.cli(*argv, "--json", local=True).stdout)


def _built(svc: Service, name: str) -> dict[str, Any] | None:
    """This host's part of the cluster network, once its agent built it."""
    return next((r for r in _json(svc, "network", "ls") if r["name"] == name and r.get("driver")), None)


def _links() -> str:
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout


def _one_line_refusal(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode != 0, done.stdout
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    for needle in needles:
        assert needle in done.stderr, done.stderr


def test_docker_network_on_a_cluster_network(dockerd: PrivateDockerd, clustered: tuple[Service, list[str]]) -> None:
    svc, store = clustered
    name, other = f"wwc{RUN_ID}", f"wwc{RUN_ID}x"
    plugin = ("-d", svc.plugin, "--ipam-driver", svc.plugin)
    dockerd.network_create(name, *plugin, "--subnet", SUBNET, "-o", "wirework.driver=vxlan", "-o", f"wirework.vni={VNI}")
    here = wait_until("the agent to build this host's share", lambda: _built(svc, name), timeout=60)
    assert isinstance(here, dict)
    share = ipaddress.ip_network(here["subnet"])
    assert share.subnet_of(ipaddress.ip_network(SUBNET)) and share.prefixlen == 24  # type: ignore[arg-type]
    (host,) = _json(svc, "host", "ls", name, *store)
    assert host["subnet"] == str(share)
    status = json.loads(svc.cli("service", "status", "--socket", svc.socket, "--json").stdout)
    assert status["agent"]["store"] == store[1] and status["agent"]["host"] == host["host"]
    wait_until("the status to show the network", lambda: f"networks: {name} {share}" in svc.cli(
        "service", "status", "--socket", svc.socket).stdout)

    c1 = dockerd.run(f"wwc{RUN_ID}a", "--net", name)
    inside = str(share.network_address + 50)
    c2 = dockerd.run(f"wwc{RUN_ID}b", "--net", name, "--ip", inside)
    ip1 = _address(dockerd, c1)
    assert ipaddress.ip_interface(ip1).network == share and _address(dockerd, c2) == f"{inside}/24"
    assert f"default via {here['gateway']} dev eth0" in dockerd.exec(c1, "ip", "route").stdout
    assert dockerd.exec(c1, "cat", "/sys/class/net/eth0/mtu").stdout.strip() == str(here["mtu"])
    assert dockerd.exec(c1, "ping", "-c", "1", "-W", "2", inside).returncode == 0
    assert dockerd.exec(c2, "ping", "-c", "1", "-W", "2", ip1.split("/")[0]).returncode == 0
    assert dockerd.exec(c2, "ping", "-c", "1", "-W", "2", c1).returncode == 0  # names: Docker's embedded DNS
    # docker network disconnect and connect again with the same --ip: Docker gives the new
    # interface a new MAC, which the service announces (c1 just cached the old one; without the
    # announcement c1 would not reach c2 for 15-45 s).
    dockerd.cli("network", "disconnect", name, c2)
    assert f"{inside}/24" not in dockerd.addresses(c2)
    dockerd.cli("network", "connect", "--ip", inside, name, c2)
    assert f"{inside}/24" in dockerd.addresses(c2)
    wait_until("c1 to reach c2 again", lambda: dockerd.exec(c1, "ping", "-c", "1", "-W", "1", inside).returncode == 0,
               timeout=8)

    outside = str(next(s for s in ipaddress.ip_network(SUBNET).subnets(new_prefix=24) if s != share)[9])
    dockerd.containers.append(f"wwc{RUN_ID}c")
    _one_line_refusal(dockerd.cli("run", "-d", "--name", f"wwc{RUN_ID}c", "--net", name, "--ip", outside,
                                  "wirework-busybox:latest", "sleep", "60", check=False),
                      f"outside {share}, this host's share of cluster network {name}")
    _one_line_refusal(dockerd.network_create(other, *plugin, "--subnet", SUBNET, "-o", "wirework.driver=host-gw",
                                             check=False), f"cluster network {name}'s, defined with driver vxlan")

    for container in (c1, c2, f"wwc{RUN_ID}c"):
        dockerd.rm(container)
    dockerd.cli("network", "rm", name)
    dockerd.networks.remove(name)
    assert name in [r["name"] for r in _json(svc, "network", "ls", *store)["cluster"]]  # still defined
    svc.cli("network", "rm", name, "--force", *store, local=True)
    wait_until("the agent to take this host's part down", lambda: here["bridge"] not in _links(), timeout=60)
    svc.stop()
    assert not os.path.exists(svc.socket + ".agent")  # the agent went with the service


def _address(dockerd: PrivateDockerd, container: str) -> str:
    line = next(ln for ln in dockerd.addresses(container).splitlines() if " eth0 " in f" {ln} ")
    return line.split()[3]


def test_a_docker_container_reaches_a_guest_of_another_host(dockerd: PrivateDockerd, etcd_server: Any,
                                                              netns: Namespaces, state_dir: str,
                                                              tmp_path_factory: pytest.TempPathFactory) -> None:
    """Two hosts on one etcd: this machine (dockerd + the service's agent) and a namespace host
    running `wirework agent --netns`, joined by a veth underlay; VXLAN carries the traffic."""
    under = f"172.29.{SEED % 250}"
    store = ["--store", etcd_server.url, "--store-prefix", f"/wwdc/{uuid.uuid4().hex[:10]}/"]
    name, root_end = f"wwx{RUN_ID}", f"wwu{RUN_ID}"
    h2, g2 = netns("h2"), netns("g2")
    sh("ip", "link", "add", root_end, "type", "veth", "peer", "name", "eth0", "netns", h2)
    svc = Service(str(tmp_path_factory.mktemp("dcstate")), dockerd.host, plugin=True)
    agent: subprocess.Popen[bytes] | None = None
    try:
        sh("ip", "addr", "add", f"{under}.1/30", "dev", root_end)
        sh("ip", "link", "set", root_end, "up")
        sh("ip", "addr", "add", f"{under}.2/30", "dev", "eth0", ns=h2)
        sh("ip", "link", "set", "eth0", "up", ns=h2)
        svc.cli("service", "start", "--socket", svc.socket, *store, "--public-ip", f"{under}.1", "--lease-ttl", "5s")
        plugin = ("-d", svc.plugin, "--ipam-driver", svc.plugin)
        dockerd.network_create(name, *plugin, "--subnet", SUBNET, "-o", "wirework.driver=vxlan",
                               "-o", f"wirework.vni={int(VNI) + 1}")
        here = wait_until("the agent to build this host's share", lambda: _built(svc, name), timeout=60)
        assert isinstance(here, dict)
        remote = ("--netns", h2, "--state-dir", f"{state_dir}/h2", *store)
        with open(f"{state_dir}/h2-agent.log", "ab") as log:
            agent = subprocess.Popen([sys.executable, "-m", "wirework.cli.main", "agent", *remote, "--public-ip",
                                      f"{under}.2", "--lease-ttl", "5s"], stdout=log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "WIREWORK_NO_SERVICE": "1"})
        wait_until("both hosts in the network", lambda: len(_json(svc, "host", "ls", name, *store)) == 2, timeout=60)
        wait_until("the other host to build its share", lambda: "connected" in wirework_cli(
            "connect", name, f"netns:{g2}", *remote, check=False).stdout, timeout=60, every=0.5)
        c1 = dockerd.run(f"wwx{RUN_ID}a", "--net", name)
        far = guest_ip(g2)
        assert ipaddress.ip_address(far) not in ipaddress.ip_network(here["subnet"])
        wait_until("the container to reach the other host's guest",
                   lambda: dockerd.exec(c1, "ping", "-c", "1", "-W", "1", far).returncode == 0, timeout=30)
        assert ping(g2, _address(dockerd, c1).split("/")[0])
        dockerd.rm(c1)
        dockerd.cli("network", "rm", name)
        dockerd.networks.remove(name)
        svc.cli("network", "rm", name, "--force", *store, local=True)
        wait_until("this host's part to go", lambda: here["bridge"] not in _links(), timeout=60)
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(30)
        svc.remove()
        sh("ip", "link", "del", root_end, check=False)

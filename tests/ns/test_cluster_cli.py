"""The cluster front as a user types it: `network create --driver`, `agent` as a real process
(kill -9, restart, SIGTERM), `connect`, `host ls`, `network ls/inspect/rm --force`, and the one-line
errors of a bad definition and of an unreachable store."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cluster.topo import Hosts, guest_ip, wait_for
from tests.conftest import Namespaces, ping, wirework_cli


@pytest.fixture
def hosts(netns: Namespaces, state_dir: str) -> Iterator[Hosts]:
    made = Hosts(netns, state_dir)
    yield made
    made.close()


class AgentProcess:
    """`wirework --store URL agent --netns HOST` with its output in a file."""

    def __init__(self, hosts: Hosts, label: str, url: str, prefix: str, ttl: str = "3s") -> None:
        self.log = f"{hosts.state_dir}/{label}-agent.log"
        argv = [sys.executable, "-m", "wirework.cli.main", "--store", url, "--store-prefix", prefix, "agent",
                "--netns", hosts.names[label], "--state-dir", f"{hosts.state_dir}/{label}",
                "--public-ip", hosts.ips[label], "--lease-ttl", ttl]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                         env={**os.environ, "WIREWORK_NO_SERVICE": "1"})

    def output(self) -> str:
        with open(self.log, encoding="utf-8", errors="replace") as f:
            return f.read()

    def subnets(self) -> list[str]:
        """The subnet of blue each run of this host's agent said it joined with."""
        return [line.split()[-1] for line in self.output().splitlines() if " joined in " in line]

    def joined(self, times: int = 1) -> None:
        wait_for("the agent to join", lambda: self.output().count(" joined in ") >= times or self.proc.poll() is not None)
        assert self.proc.poll() is None, self.output()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(20)


def cli(url: str, prefix: str, *argv: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return wirework_cli("--store", url, "--store-prefix", prefix, *argv, **kw)


def test_a_user_runs_a_cluster_from_the_command_line(hosts: Hosts, netns: Namespaces, etcd_server: Any,
                                                     etcd_store: Any) -> None:
    url, prefix = etcd_server.url, etcd_store.prefix
    bad = cli(url, prefix, "network", "create", "blue", "--driver", "vxlan", "--subnet", "10.244.0.0/16",
              "--host-subnet-len", "12", check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "does not fit network 10.244.0.0/16" in bad.stderr
    dry = cli(url, prefix, "network", "create", "blue", "--driver", "vxlan", "--subnet", "10.244.0.0/16", "--dry-run")
    assert "would define cluster network blue (vxlan, 10.244.0.0/16, a /24 per host)" in dry.stdout
    assert cli(url, prefix, "network", "ls", "--json").stdout.count('"driver"') == 0  # the dry run wrote nothing
    made = cli(url, prefix, "network", "create", "blue", "--driver", "vxlan", "--subnet", "10.244.0.0/16").stdout
    assert "created cluster network blue (vxlan, 10.244.0.0/16, a /24 per host: room for 256 hosts, VNI 1)" in made
    again = cli(url, prefix, "network", "create", "blue", "--driver", "vxlan", "--subnet", "10.244.0.0/16").stdout
    assert "already defined" in again
    other = cli(url, prefix, "network", "create", "blue", "--driver", "host-gw", "--subnet", "10.244.0.0/16",
                check=False)
    assert other.returncode == 4 and "already exists with driver 'vxlan', not 'host-gw'" in other.stderr
    agents = {}
    for label in ("h1", "h2"):
        hosts.add(label)
        preview = cli(url, prefix, "agent", "--netns", hosts.names[label], "--state-dir", f"{hosts.state_dir}/{label}",
                      "--public-ip", hosts.ips[label], "--dry-run", "--json").stdout
        assert json.loads(preview)["networks"][0]["network"] == "blue"
        agents[label] = AgentProcess(hosts, label, url, prefix)
    for agent in agents.values():
        agent.joined()
    g1, g2 = netns("g1"), netns("g2")
    common = {label: ("--netns", hosts.names[label], "--state-dir", f"{hosts.state_dir}/{label}") for label in agents}
    out = wirework_cli("connect", "blue", f"netns:{g1}", *common["h1"]).stdout
    assert "connected" in out and "(default route)" in out
    wirework_cli("connect", "blue", f"netns:{g2}", *common["h2"])
    target = guest_ip(g2)
    assert any(ping(g1, target) for _ in range(5))
    listing = cli(url, prefix, "host", "ls", "blue").stdout
    assert hosts.names["h1"] in listing and hosts.ips["h2"] in listing and listing.count(" ok") == 2
    listed = cli(url, prefix, "network", "ls", *common["h1"]).stdout
    assert re.search(r"blue\s+vxlan\s+10\.244\.0\.0/16\s+/24\s+1\s+auto\s+2/256\s+active", listed), listed
    assert re.search(r"blue\s+10\.244\.\d+\.0/24\s+10\.244\.\d+\.1\s+ww-blue\s+1\s+up\s+cluster:vxlan", listed), listed
    inspect = cli(url, prefix, "network", "inspect", "blue", *common["h1"]).stdout
    assert "on this host: subnet 10.244." in inspect and g1 in inspect, inspect

    # kill -9: the host keeps forwarding; restarted, the agent gets the same subnet back.
    held = agents["h2"].subnets()[-1]
    agents["h2"].stop(signal.SIGKILL)
    assert ping(g1, target)
    agents["h2"] = AgentProcess(hosts, "h2", url, prefix)  # appends to the same log
    agents["h2"].joined(times=2)
    assert agents["h2"].subnets() == [held, held]
    assert ping(g1, target)

    assert "would refuse: cluster network blue is used by" in cli(url, prefix, "network", "rm", "blue", "--dry-run").stdout
    refused = cli(url, prefix, "network", "rm", "blue", check=False)
    assert refused.returncode == 4 and "used by 2 host(s)" in refused.stderr
    assert "removed cluster network blue" in cli(url, prefix, "network", "rm", "blue", "--force").stdout
    wait_for("h1 to leave", lambda: "left network blue" in agents["h1"].output())
    assert not any(link.startswith("wwx-blue") for link in _links(hosts.names["h1"]))
    for agent in agents.values():
        assert agent.stop() == 0
        assert "agent stopped" in agent.output()


def test_an_unreachable_store_is_one_line_and_changes_nothing(hosts: Hosts) -> None:
    hosts.add("h1")
    done = wirework_cli("--store", "etcd://127.0.0.1:9", "agent", "--netns", hosts.names["h1"], "--state-dir",
                        f"{hosts.state_dir}/h1", "--public-ip", hosts.ips["h1"], check=False)
    assert done.returncode != 0 and done.stderr.count("\n") == 1 and "127.0.0.1:9" in done.stderr, done.stderr
    assert not any(link.startswith("ww") for link in _links(hosts.names["h1"]))


def _links(ns: str) -> list[str]:
    out = subprocess.run(["ip", "-n", ns, "-o", "link"], capture_output=True, text=True, check=True).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]

"""The firewall on the real kernel, proved with real traffic between throwaway namespaces.

Topology (all namespaces made by the test): a "host" namespace with one bridge per network
and a veth `lan0` (192.168.77.1/24) to a "LAN neighbour" namespace (192.168.77.2/24); guests
are namespaces on the bridges, each running busybox httpd: `/` answers the guest's name and
`/cgi-bin/ip` the client address it sees. Nothing is sent outside these namespaces.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Namespaces, sh
from wirework.firewall.links import LinkNetworks, UnlinkNetworks
from wirework.firewall.model import NetworkRules, PortMapping
from wirework.firewall.ports import PublishPort, UnpublishPort
from wirework.firewall.steps import AddNetworkRules, EnsureFirewallBase
from wirework.kernel.host import KernelHost
from wirework.plan.executor import Executor
from wirework.plan.steps import Plan, Step

HOST_LAN, NEIGHBOUR = "192.168.77.1", "192.168.77.2"
CGI = '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho "$REMOTE_ADDR"\n'


class Lab:
    def __init__(self, netns: Namespaces, tmp: Path) -> None:
        self.netns, self.tmp = netns, tmp
        self.h, self.n = netns("h"), netns("n")
        sh("ip", "-n", self.h, "link", "add", "lan0", "type", "veth", "peer", "name", "lan0", "netns", self.n)
        for ns, addr in ((self.h, HOST_LAN), (self.n, NEIGHBOUR)):
            sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "lan0")
            sh("ip", "-n", ns, "link", "set", "lan0", "up")
        sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=self.h)
        self.host = KernelHost(self.h)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.serve(self.n, "neighbour")

    def network(self, name: str, third: int, **opts: bool) -> NetworkRules:
        bridge = f"wbr{name}"
        sh("ip", "-n", self.h, "link", "add", bridge, "type", "bridge")
        sh("ip", "-n", self.h, "addr", "add", f"10.{third}.0.1/24", "dev", bridge)
        sh("ip", "-n", self.h, "link", "set", bridge, "up")
        return NetworkRules(name, bridge, f"10.{third}.0.0/24", f"10.{third}.0.1", **opts)

    def guest(self, net: NetworkRules, index: int) -> tuple[str, str]:
        name = f"{net.name}{index}"
        ns = self.netns(name)
        ip = net.gateway.rsplit(".", 1)[0] + f".{index + 1}"
        sh("ip", "-n", self.h, "link", "add", f"v{name}", "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "-n", self.h, "link", "set", f"v{name}", "master", net.bridge, "up")
        sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "route", "add", "default", "via", net.gateway)
        self.serve(ns, name)
        return ns, ip

    def serve(self, ns: str, name: str) -> None:
        root = self.tmp / ns
        (root / "cgi-bin").mkdir(parents=True)
        (root / "index.html").write_text(name + "\n")
        (root / "cgi-bin" / "ip").write_text(CGI)
        (root / "cgi-bin" / "ip").chmod(0o755)
        argv = ["ip", "netns", "exec", ns, "busybox", "httpd", "-f", "-p", "80", "-h", str(root)]
        self.procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for _ in range(100):
            if get(ns, "127.0.0.1") == name:
                return
            time.sleep(0.02)
        raise AssertionError(f"httpd in {ns} did not start")

    def run(self, *steps: Step) -> list[Step]:
        return Executor(self.host).run(Plan("test", "test", tuple(steps)))

    def close(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait()
        self.host.close()


def get(ns: str, host: str, port: int = 80, path: str = "/") -> str | None:
    """The body an HTTP GET from `ns` returns, or None when nothing answers within a second."""
    return probe([(ns, host, port, path)])[0]


def probe(targets: list[tuple[str, str, int, str]]) -> list[str | None]:
    """Several GETs at once (a blocked one costs its 1 s timeout only once)."""
    procs = [subprocess.Popen(["ip", "netns", "exec", ns, "curl", "-sf", "--noproxy", "*", "-m", "1",
                               f"http://{host}:{port}{path}"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) for ns, host, port, path in targets]
    out = []
    for proc in procs:
        body, _ = proc.communicate(timeout=10)
        text = body.decode().strip().removeprefix("[::ffff:").removesuffix("]")  # httpd listens on v6
        out.append(text if proc.returncode == 0 else None)
    return out


@pytest.fixture
def lab(netns: Namespaces, tmp_path: Path) -> Iterator[Lab]:
    world = Lab(netns, tmp_path)
    yield world
    world.close()


def test_published_ports_from_outside_host_hairpin_and_host_only(lab: Lab) -> None:
    a = lab.network("a", 88)
    b = lab.network("b", 89)
    (_a1, ip1), (a2, _) = lab.guest(a, 1), lab.guest(a, 2)
    b1, _ = lab.guest(b, 1)
    wild = PortMapping("a", ip1, "tcp", 8080, 80, owner="att:a1")
    local = PortMapping("a", ip1, "tcp", 8081, 80, host_ip="127.0.0.1", owner="att:a1")
    undo = lab.run(EnsureFirewallBase(), AddNetworkRules(a), AddNetworkRules(b), PublishPort(wild), PublishPort(local))
    h, n = lab.h, lab.n
    got = probe([
        (n, HOST_LAN, 8080, "/"),  # DNAT from the LAN
        (h, HOST_LAN, 8080, "/"),  # from the host itself, to its own address
        (h, "127.0.0.1", 8080, "/"),  # ... and to localhost
        (h, "127.0.0.1", 8081, "/"),  # host-only port, from the host
        (n, HOST_LAN, 8081, "/"),  # host-only port: never from the LAN
        (a2, a.gateway, 8080, "/"),  # hairpin through the gateway address
        (a2, HOST_LAN, 8080, "/cgi-bin/ip"),  # hairpin is masqueraded: the guest sees the gateway
        (b1, HOST_LAN, 8080, "/"),  # a published port is public, also to other networks
        (n, HOST_LAN, 8082, "/"),  # nothing published there
    ])
    # (A guest reaching its *own* published port needs hairpin mode on its bridge port, which
    # connect sets: tests/ns/test_ports_traffic.py proves it without setting anything by hand.)
    assert got == ["a1", "a1", "a1", "a1", None, "a1", a.gateway, "a1", None]
    lab.run(UnpublishPort(wild))
    assert probe([(n, HOST_LAN, 8080, "/"), (h, "127.0.0.1", 8081, "/")]) == [None, "a1"]
    from wirework.plan.executor import run_best_effort
    assert run_best_effort(lab.host, undo) == []
    assert "wirework" not in sh("nft", "list", "tables", ns=h)


def test_localhost_port_is_not_reachable_by_a_neighbour_forging_127_0_0_1(lab: Lab) -> None:
    a = lab.network("a", 88)
    _, ip1 = lab.guest(a, 1)
    local = PortMapping("a", ip1, "tcp", 8081, 80, host_ip="127.0.0.1", owner="att:a1")
    lab.run(EnsureFirewallBase(), AddNetworkRules(a), PublishPort(local))
    # The neighbour routes 127.0.0.1 to the host (the attack on Docker's 127.0.0.1 ports).
    n = lab.n
    sh("sysctl", "-qw", "net.ipv4.conf.lan0.route_localnet=1", ns=n)
    sh("ip", "route", "add", "127.0.0.1/32", "via", HOST_LAN, "dev", "lan0", "table", "100", ns=n)
    sh("ip", "rule", "add", "to", "127.0.0.1", "lookup", "100", "pref", "10", ns=n)
    sh("ip", "rule", "add", "lookup", "local", "pref", "20", ns=n)  # below ours: 127.0.0.1 leaves by lan0
    sh("ip", "rule", "del", "pref", "0", ns=n)
    assert get(n, "127.0.0.1", 8081) is None
    assert get(lab.h, "127.0.0.1", 8081) == "a1"
    # Control: the attack does work against a naive DNAT of 127.0.0.1 in prerouting.
    sh("nft", "insert", "rule", "inet", "wirework", "prerouting", "ip", "daddr", "127.0.0.1", "tcp", "dport", "8081",
       "dnat", "ip", "to", f"{ip1}:80", ns=lab.h)
    assert get(n, "127.0.0.1", 8081) == "a1"


def test_masquerade_and_routed_networks(lab: Lab) -> None:
    a = lab.network("a", 88)
    r = lab.network("r", 90, masquerade=False)
    a1, _ = lab.guest(a, 1)
    r1, rip = lab.guest(r, 1)
    lab.run(EnsureFirewallBase(), AddNetworkRules(a), AddNetworkRules(r))
    sh("ip", "route", "add", r.subnet, "via", HOST_LAN, ns=lab.n)
    sh("ip", "route", "add", a.subnet, "via", HOST_LAN, ns=lab.n)
    got = probe([
        (a1, NEIGHBOUR, 80, "/cgi-bin/ip"),  # egress of a NAT network: the host's address
        (r1, NEIGHBOUR, 80, "/cgi-bin/ip"),  # a routed network keeps its addresses
        (lab.n, rip, 80, "/"),  # ... and is reachable from outside
        (lab.n, "10.88.0.2", 80, "/"),  # a NAT network is not, except through published ports
    ])
    assert got == [HOST_LAN, rip, "r1", None]


def test_isolation_between_networks_until_linked(lab: Lab) -> None:
    a, b, c = lab.network("a", 88), lab.network("b", 89), lab.network("c", 91)
    a1, ip_a = lab.guest(a, 1)
    b1, ip_b = lab.guest(b, 1)
    c1, ip_c = lab.guest(c, 1)
    lab.run(EnsureFirewallBase(), AddNetworkRules(a), AddNetworkRules(b), AddNetworkRules(c))
    pairs = [(a1, ip_b, 80, "/"), (b1, ip_a, 80, "/"), (a1, ip_c, 80, "/"), (c1, ip_b, 80, "/")]
    assert probe(pairs) == [None, None, None, None]
    undo = lab.run(LinkNetworks("a", "b"))
    assert probe(pairs) == ["b1", "a1", None, None]
    assert get(b1, ip_a, 80, "/cgi-bin/ip") == ip_b  # linked traffic is not NATed
    lab.run(UnlinkNetworks("a", "b"))
    assert probe(pairs[:2]) == [None, None]
    assert undo == [UnlinkNetworks("a", "b")]


@pytest.mark.parametrize("br_netfilter", ["0", "1"])
def test_no_icc_blocks_guests_of_one_network_with_or_without_br_netfilter(lab: Lab, br_netfilter: str) -> None:
    sh("sysctl", "-qw", f"net.bridge.bridge-nf-call-iptables={br_netfilter}", ns=lab.h)
    q, o = lab.network("q", 92, icc=False), lab.network("o", 93)
    (q1, _), (q2, ip_q2) = lab.guest(q, 1), lab.guest(q, 2)
    (o1, _), (_o2, ip_o2) = lab.guest(o, 1), lab.guest(o, 2)
    lab.run(EnsureFirewallBase(), AddNetworkRules(q), AddNetworkRules(o))
    got = probe([(q1, ip_q2, 80, "/"), (q2, "10.92.0.2", 80, "/"), (o1, ip_o2, 80, "/"), (q1, NEIGHBOUR, 80, "/")])
    assert got == [None, None, "o2", "neighbour"]


def test_internal_network_reaches_only_itself(lab: Lab) -> None:
    i, a = lab.network("i", 94, internal=True), lab.network("a", 88)
    (i1, _), (_i2, ip_i2) = lab.guest(i, 1), lab.guest(i, 2)
    a1, _ = lab.guest(a, 1)
    lab.run(EnsureFirewallBase(), AddNetworkRules(i), AddNetworkRules(a))
    sh("ip", "route", "add", i.subnet, "via", HOST_LAN, ns=lab.n)
    got = probe([(i1, ip_i2, 80, "/"), (i1, NEIGHBOUR, 80, "/"), (lab.n, "10.94.0.3", 80, "/"),
                 (a1, "10.94.0.3", 80, "/"), (i1, "10.88.0.2", 80, "/")])
    assert got == ["i2", None, None, None, None]


def test_guests_cannot_reach_host_loopback_through_route_localnet(lab: Lab) -> None:
    a = lab.network("a", 88)
    a1, _ = lab.guest(a, 1)
    lab.run(EnsureFirewallBase(), AddNetworkRules(a))
    assert sh("sysctl", "-n", f"net.ipv4.conf.{a.bridge}.route_localnet", ns=lab.h).strip() == "1"
    lab.serve(lab.h, "host-loopback-only")  # busybox httpd on the host's *:80, reached via 127.0.0.1
    sh("ip", "route", "add", "127.0.0.1/32", "via", a.gateway, "table", "100", ns=a1)
    sh("ip", "rule", "add", "to", "127.0.0.1", "lookup", "100", "pref", "10", ns=a1)
    sh("ip", "rule", "add", "lookup", "local", "pref", "20", ns=a1)
    sh("ip", "rule", "del", "pref", "0", ns=a1)
    sh("sysctl", "-qw", "net.ipv4.conf.eth0.route_localnet=1", ns=a1)
    assert get(a1, "127.0.0.1") is None
    # Control: without the guard rule the host's loopback is open to the guest.
    sh("nft", "flush", "chain", "inet", "wirework", "guard", ns=lab.h)
    assert get(a1, "127.0.0.1") == "host-loopback-only"

"""Published ports made by `connect`, proved with real traffic: from another machine on the
host's LAN, from the host itself, and from a guest through the host's address (hairpin).

Topology (all namespaces made by the test): the "host" namespace of a Wirework session, a veth
`lan0` (192.168.78.1/24) to a namespace acting as another machine on the host's LAN
(192.168.78.2/24), and guests as namespaces connected by wirework. Nothing leaves them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import Namespaces, sh
from tests.ns.helpers import cli
from tests.ns.traffic import Servers, ask
from wirework.api import Wirework

HOST_LAN, LAN_MACHINE = "192.168.78.1", "192.168.78.2"


@dataclass
class Site:
    ww: Wirework
    host: str
    lan: str
    state_dir: str
    servers: Servers


@pytest.fixture
def site(ww: Wirework, netns: Namespaces, state_dir: str) -> Iterator[Site]:
    host = ww.host.netns
    assert host is not None
    lan = netns("lan")
    sh("ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lan0", "netns", lan, ns=host)
    for ns, addr in ((host, HOST_LAN), (lan, LAN_MACHINE)):
        sh("ip", "addr", "add", f"{addr}/24", "dev", "lan0", ns=ns)
        sh("ip", "link", "set", "lan0", "up", ns=ns)
    servers = Servers()
    yield Site(ww, host, lan, state_dir, servers)
    servers.stop()


def default_route(ns: str) -> str:
    lines = [line.split(" proto ")[0].strip() for line in sh("ip", "route", ns=ns).splitlines()]
    return "\n".join(line for line in lines if line.startswith("default"))


def test_a_guests_first_network_gives_it_the_default_route_so_ports_answer_from_outside(
        site: Site, netns: Namespaces) -> None:
    """Issue 7.4: docker/podman give a guest's first network the default route; without it a
    published port answers on 127.0.0.1 only, since replies to other clients have no way back."""
    site.ww.network_create("web", subnet="10.71.0.0/24")
    c = netns("c")
    site.ww.connect("web", c, publish=["18080:8080"])
    site.servers.start(c, "c", "8080/tcp")
    assert default_route(c) == "default via 10.71.0.1 dev eth0"
    got = ask([(site.lan, HOST_LAN, 18080, "tcp"), (site.host, HOST_LAN, 18080, "tcp"),
               (site.host, "127.0.0.1", 18080, "tcp")])
    assert got[0] == f"c {LAN_MACHINE}"  # another machine, its address kept (DNAT, no masquerade)
    assert got[1] is not None and got[1].startswith("c ") and got[2] is not None and got[2].startswith("c ")


def test_a_second_network_keeps_the_first_ones_default_route_unless_told(site: Site, netns: Namespaces) -> None:
    site.ww.network_create("one", subnet="10.72.0.0/24")
    site.ww.network_create("two", subnet="10.73.0.0/24")
    site.ww.network_create("three", subnet="10.74.0.0/24")
    g = netns("g")
    assert site.ww.connect("one", g).endpoint.default_route
    assert not site.ww.connect("two", g).endpoint.default_route  # it had one: kept
    assert default_route(g) == "default via 10.72.0.1 dev eth0"
    assert site.ww.connect("three", g, default_route=True).endpoint.default_route  # forced over it
    assert default_route(g) == "default via 10.74.0.1 dev eth2"
    views = {n: [x["default_route"] for x in site.ww.network_inspect(n)["guests"]] for n in ("one", "two", "three")}
    assert views == {"one": [False], "two": [False], "three": [True]}
    site.ww.disconnect("three", g)
    lone = netns("lone")
    assert not site.ww.connect("one", lone, default_route=False).endpoint.default_route
    assert default_route(lone) == ""


def test_no_default_route_with_published_ports_is_said_in_the_output_and_by_doctor(
        site: Site, netns: Namespaces) -> None:
    cli(site.host, site.state_dir, "network", "create", "web", "--subnet", "10.75.0.0/24")
    c = netns("c")
    out = cli(site.host, site.state_dir, "connect", "web", c, "-p", "18081:8080", "--no-default-route").stdout
    assert default_route(c) == ""
    assert f"note: {c} has no default route: its published port 18081/tcp answers only clients on 10.75.0.0/24 " \
           f"and the host's 127.0.0.1" in out
    site.servers.start(c, "c", "8080/tcp")
    # What the note says, really: the host's 127.0.0.1 yes (masqueraded to the gateway), others no.
    got = ask([(site.lan, HOST_LAN, 18081, "tcp"), (site.host, "127.0.0.1", 18081, "tcp")])
    assert got == [None, "c 10.75.0.1"]
    done = cli(site.host, site.state_dir, "doctor", "--json", check=False)
    findings = [f for f in json.loads(done.stdout)["findings"] if f["id"] == "port-no-route-back"]
    assert len(findings) == 1 and f"wirework pipework route {c} add default via 10.75.0.1 dev eth0" in findings[0]["fix"]
    fix = findings[0]["fix"].split("  (")[0].split()[1:]  # the fix doctor gives, as it says
    cli(site.host, site.state_dir, *fix)
    assert ask([(site.lan, HOST_LAN, 18081, "tcp")]) == [f"c {LAN_MACHINE}"]
    done = cli(site.host, site.state_dir, "doctor", "--json", check=False)
    assert "port-no-route-back" not in done.stdout


def test_connect_refuses_both_default_route_flags(site: Site, netns: Namespaces) -> None:
    done = cli(site.host, site.state_dir, "connect", "web", netns("c"), "--default-route", "--no-default-route",
               check=False)
    assert done.returncode == 2 and "not allowed with argument" in done.stderr


@pytest.mark.parametrize("br_netfilter", ["0", "1"])
def test_a_guest_reaches_its_own_published_port_through_the_hosts_address(
        site: Site, netns: Namespaces, br_netfilter: str) -> None:
    """Issue 7.5 (hairpin): nothing is set by hand. With br_netfilter the DNAT back to the sender
    is bridged out of its ingress port, which a bridge does only in hairpin mode."""
    sh("sysctl", "-qw", f"net.bridge.bridge-nf-call-iptables={br_netfilter}", ns=site.host)  # per netns
    site.ww.network_create("web", subnet="10.76.0.0/24")
    c, d = netns("c"), netns("d")
    port_c = site.ww.connect("web", c, publish=["18082:8080", "18083:5353/udp"]).endpoint
    site.ww.connect("web", d)
    site.servers.start(c, "c", "8080/tcp", "5353/udp")
    got = ask([(c, HOST_LAN, 18082, "tcp"), (c, "10.76.0.1", 18082, "tcp"), (c, HOST_LAN, 18083, "udp"),
               (d, HOST_LAN, 18082, "tcp")])
    assert got == ["c 10.76.0.1"] * 4  # hairpin is masqueraded: the guest sees the gateway
    atts = {a.guest.name: a.host_ifname for a in (s.attachment for s in site.ww.ls())}
    assert "hairpin on" in sh("ip", "-d", "link", "show", atts[c], ns=site.host)
    assert "hairpin off" in sh("ip", "-d", "link", "show", atts[d], ns=site.host)  # no published port: no need
    assert port_c.ports


def test_published_udp_ports_and_port_ranges_carry_traffic(site: Site, netns: Namespaces) -> None:
    """S2 with real traffic: a UDP port, a TCP range and a UDP range, from another machine on the
    LAN; the ports around the ranges stay closed; disconnect closes them all."""
    site.ww.network_create("svc", subnet="10.77.0.0/24")
    g = netns("g")
    site.ww.connect("svc", g, publish=["15353:5353/udp", "18090-18092:9090-9092", "15360-15361:6360-6361/udp"])
    site.servers.start(g, "g", "5353/udp", "9090/tcp", "9091/tcp", "9092/tcp", "6360/udp", "6361/udp", "9093/tcp")
    lan = site.lan
    wanted = [(15353, "udp"), (18090, "tcp"), (18091, "tcp"), (18092, "tcp"), (15360, "udp"), (15361, "udp")]
    outside = [(18089, "tcp"), (18093, "tcp"), (15362, "udp"), (15353, "tcp")]
    got = ask([(lan, HOST_LAN, port, proto) for port, proto in wanted + outside])
    assert got == [f"g {LAN_MACHINE}"] * len(wanted) + [None] * len(outside)
    site.ww.disconnect("svc", g)
    assert ask([(lan, HOST_LAN, port, proto) for port, proto in wanted]) == [None] * len(wanted)

"""Networks end to end in throwaway namespaces: create, connect, default routes, IPAM, rm."""

from __future__ import annotations

import difflib
import os
import subprocess

import pytest

from tests.conftest import Namespaces, ping, sh, snapshot
from tests.ns.helpers import WIREWORK, cli, world
from wirework.api import Wirework
from wirework.errors import Conflict, InvalidInput, NotFound


def test_create_connect_inspect_rm_leaves_nothing(ww: Wirework, netns: Namespaces, state_dir: str) -> None:
    host = ww.host.netns
    assert host is not None
    g1, g2 = netns("g1"), netns("g2")
    before = snapshot(host)
    res = ww.network_create("alpha", subnet="10.77.0.0/24")
    assert (res.network.bridge, res.network.gateway) == ("ww-alpha", "10.77.0.1")
    assert "wirework:net:alpha" in sh("ip", "-d", "link", "show", "ww-alpha", ns=host)
    ep1 = ww.connect("alpha", g1, default_route=True, publish=["8080:80"]).endpoint
    ep2 = ww.connect("alpha", g2, aliases=["web"], default_route=False).endpoint
    assert (ep1.ip, ep1.ifname, ep2.ip) == ("10.77.0.2/24", "eth0", "10.77.0.3/24")
    assert ping(g1, "10.77.0.3") and ping(g2, "10.77.0.1")
    assert "default via 10.77.0.1 dev eth0" in sh("ip", "route", ns=g1)
    assert "default" not in sh("ip", "route", ns=g2)  # --no-default-route: none, although its first network
    info = ww.network_inspect("alpha")
    assert [(g["guest"], g["ip"], g["ports"]) for g in sorted(info["guests"], key=lambda g: g["ip"])] == [
        (g1, "10.77.0.2/24", ["0.0.0.0:8080->80/tcp"]), (g2, "10.77.0.3/24", [])]
    assert [r["name"] for r in ww.network_ls()] == ["alpha"]
    assert "tcp . 8080" in sh("nft", "list", "map", "inet", "wirework", "port_addr", ns=host)
    with pytest.raises(Conflict, match="still has 2 guest"):
        ww.network_rm("alpha")
    assert ww.connect("alpha", g1, default_route=True, publish=["8080:80"]).changed is False  # repeat: no-op
    ww.disconnect("alpha", g1)
    assert ww.disconnect("alpha", g1) is None  # twice is fine
    ww.network_rm("alpha", force=True)
    assert snapshot(host) == before
    assert "wirework" not in sh("nft", "list", "ruleset", ns=host)
    assert sh("ip", "-o", "link", ns=g2).count("\n") == 1  # only lo left in the guest
    assert [e.key for e in ww.store.scan("")] == []


def test_auto_subnet_skips_routes_and_explicit_collision_is_refused(ww: Wirework, state_dir: str) -> None:
    host = ww.host.netns
    assert host is not None
    sh("ip", "link", "add", "up0", "type", "veth", "peer", "name", "up1", ns=host)
    sh("ip", "link", "set", "up0", "up", ns=host)
    sh("ip", "addr", "add", "10.98.0.1/24", "dev", "up0", ns=host)
    sh("ip", "route", "add", "172.18.0.0/16", "via", "10.98.0.2", "table", "100", ns=host)  # a VPN's table
    sh("ip", "route", "add", "172.19.4.0/24", "via", "10.98.0.2", ns=host)
    out = cli(host, state_dir, "network", "create", "auto", "--dry-run").stdout
    assert "skipped 172.18.0.0/16: route 172.18.0.0/16 via 10.98.0.2 dev up0 (table 100)" in out
    assert "skipped 172.19.0.0/16: route 172.19.4.0/24 via 10.98.0.2 dev up0 (table main)" in out
    assert "would create network auto" in out
    res = ww.network_create("auto", pools="172.18.0.0/15:16,10.98.0.0/16:24")
    assert res.network.subnet == "10.98.1.0/24"  # 10.98.0.0/24 is up0's address
    with pytest.raises(Conflict, match=r"collides with route 172.19.4.0/24 via 10.98.0.2 dev up0.*--force"):
        ww.network_create("vpn", subnet="172.19.0.0/16")
    assert ww.network_create("vpn", subnet="172.19.0.0/16", force=True).notes
    with pytest.raises(Conflict, match="overlaps wirework network auto"):
        ww.network_create("dup", subnet="10.98.1.128/25", force=True)


def test_default_route_is_explicit_across_several_networks(ww: Wirework, netns: Namespaces) -> None:
    g = netns("multi")
    ww.network_create("front", subnet="10.61.0.0/24")
    ww.network_create("back", subnet="10.62.0.0/24")
    ww.connect("back", g, default_route=True)
    ww.connect("front", g)  # later, but not the default route
    routes = sh("ip", "route", ns=g)
    assert "default via 10.62.0.1 dev eth0" in routes and "10.61.0.0/24 dev eth1" in routes
    ww.disconnect("front", g)
    ww.connect("front", g, default_route=True)  # now explicitly moved
    assert "default via 10.61.0.1 dev eth1" in sh("ip", "route", ns=g)
    eps = {g_["ip"]: g_["default_route"] for n in ("front", "back") for g_ in ww.network_inspect(n)["guests"]}
    assert eps == {"10.61.0.2/24": True, "10.62.0.2/24": False}


def test_static_reservation_and_comeback(ww: Wirework, netns: Namespaces) -> None:
    ww.network_create("res", subnet="10.63.0.0/24", ip_range="10.63.0.0/29")
    static = netns("st")
    ww.connect("res", static, ip="10.63.0.100")
    dyn = [netns(f"d{i}") for i in range(3)]
    ips = [ww.connect("res", d).endpoint.address for d in dyn]
    assert ips == ["10.63.0.2", "10.63.0.3", "10.63.0.4"]
    with pytest.raises(InvalidInput, match="inside the dynamic range"):
        ww.connect("res", netns("x"), ip="10.63.0.5")
    with pytest.raises(Conflict, match="already taken"):
        ww.connect("res", netns("y"), ip="10.63.0.100")
    # the guest goes away (namespace deleted) and comes back under the same name
    sh("ip", "netns", "del", dyn[1])
    sh("ip", "netns", "add", dyn[1])
    assert ww.connect("res", dyn[1]).endpoint.address == "10.63.0.3"
    assert ping(dyn[1], "10.63.0.100")


def test_up_rebuilds_after_flush_and_lost_bridge(ww: Wirework, netns: Namespaces, state_dir: str) -> None:
    host = ww.host.netns
    assert host is not None
    g1, g2 = netns("u1"), netns("u2")
    ww.network_create("keep", subnet="10.64.0.0/24")
    ww.network_create("other", subnet="10.65.0.0/24")
    ww.network_link("keep", "other")
    ww.connect("keep", g1, publish=["127.0.0.1:9000:90/udp"])
    ww.connect("other", g2, default_route=True)
    ww.connect("keep", g2)
    rules = sh("nft", "list", "table", "inet", "wirework", ns=host)
    sh("nft", "flush", "ruleset", ns=host)  # the test's own host namespace, never the machine's
    sh("ip", "link", "del", "ww-keep", ns=host)  # as after a reboot
    assert not ping(g1, "10.64.0.1")
    out = cli(host, state_dir, "up").stdout
    assert "network keep: create Linux bridge ww-keep" in out and "attach" in out
    assert ping(g1, "10.64.0.1", count=3) and ping(g2, "10.64.0.2")
    assert sh("nft", "list", "table", "inet", "wirework", ns=host) == rules
    assert cli(host, state_dir, "up", "--dry-run").stdout.splitlines()[:-1] == []  # converged: only the sync line


def test_bad_input_changes_nothing(ww: Wirework, netns: Namespaces, state_dir: str) -> None:
    host = ww.host.netns
    assert host is not None
    g1, g2 = netns("b1"), netns("b2")
    ww.network_create("used", subnet="10.66.0.0/24")
    ww.connect("used", g1, publish=["8080:80"])
    listener = sh("sh", "-c", "busybox nc -l -p 2222 >/dev/null 2>&1 & echo $!", ns=host).strip()
    try:
        before = world(host, [g1, g2], state_dir)
        bad = [
            (["network", "create", "x", "--subnet", "10.66.0.128/25"], "overlaps wirework network used"),
            (["network", "create", "x", "--subnet", "10.67.0.0/24", "--gateway", "10.68.0.1"], "outside the subnet"),
            (["network", "create", "x", "--subnet", "10.67.0.0/24", "--ip-range", "10.67.1.0/25"], "not inside"),
            (["network", "create", "host"], "shares the host"),
            (["network", "create", "x", "--mtu", "10"], "MTU"),
            (["connect", "used", g2, "-p", "8080:81"], "already published"),
            (["connect", "used", g2, "-p", "2222:22"], "in use by a program on the host"),
            (["connect", "used", g2, "-p", "8000-8002:80-81"], "make them equal"),
            (["connect", "used", g2, "-p", "0:80"], "out of range"),
            (["connect", "used", g2, "-p", "70000:80"], "out of range"),
            (["connect", "used", g2, "-p", "80:80/sctp"], "unknown protocol"),
            (["connect", "used", g2, "--ip", "10.66.1.9"], "outside"),
            (["connect", "nosuch", g2], "not found"),
            (["connect", "host", g2], "cannot be swapped"),
            (["connect", f"container:{g1}", g2], "cannot be swapped"),
            (["network", "rm", "used"], "still has 1 guest"),
        ]
        for args, message in bad:
            done = cli(host, state_dir, *args, check=False)
            assert done.returncode != 0, args
            assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, (args, done.stderr)
            after = world(host, [g1, g2], state_dir)
            assert after == before, (args, list(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="")))
    finally:
        sh("kill", listener)


def test_network_names_and_missing(ww: Wirework) -> None:
    with pytest.raises(NotFound, match="wirework network create nope"):
        ww.network_inspect("nope")
    res = ww.network_create("a-really-long-network-name", subnet="10.69.0.0/24")
    assert len(res.network.bridge) <= 15 and res.network.bridge.startswith("ww-")


def test_forwarding_enabled_with_a_notice_or_refused(ww: Wirework, netns: Namespaces, state_dir: str) -> None:
    host = ww.host.netns
    assert host is not None
    sh("sysctl", "-w", "net.ipv4.ip_forward=0", ns=host)
    before = world(host, [], state_dir)
    done = cli(host, state_dir, "network", "create", "nat1", "--subnet", "10.74.0.0/24", "--no-sysctl", check=False)
    assert done.returncode != 0 and "net.ipv4.ip_forward is 0" in done.stderr and "drop --no-sysctl" in done.stderr
    assert world(host, [], state_dir) == before
    cli(host, state_dir, "network", "create", "iso", "--subnet", "10.75.0.0/24", "--internal", "--no-sysctl")
    assert sh("sysctl", "-n", "net.ipv4.ip_forward", ns=host).strip() == "0"  # internal: no NAT, no forwarding
    out = cli(host, state_dir, "network", "create", "nat1", "--subnet", "10.74.0.0/24").stdout
    assert "note: net.ipv4.ip_forward was 0: enabled it" in out
    assert sh("sysctl", "-n", "net.ipv4.ip_forward", ns=host).strip() == "1"
    sh("sysctl", "-w", "net.ipv4.ip_forward=0", ns=host)  # turned off again later: connect notices too
    g = netns("fw")
    done = cli(host, state_dir, "connect", "nat1", g, "--no-sysctl", check=False)
    assert done.returncode != 0 and "net.ipv4.ip_forward is 0" in done.stderr
    assert "note: net.ipv4.ip_forward was 0" in cli(host, state_dir, "connect", "nat1", g).stdout


def test_mtu_reaches_bridge_and_guests(ww: Wirework, netns: Namespaces) -> None:
    host = ww.host.netns
    assert host is not None
    g = netns("mtu")
    ww.network_create("small", subnet="10.76.0.0/24", mtu=1400)
    ww.connect("small", g)
    assert "mtu 1400" in sh("ip", "link", "show", "ww-small", ns=host)
    assert "mtu 1400" in sh("ip", "link", "show", "eth0", ns=g)
    assert ping(g, "10.76.0.1", size=1372, dont_fragment=True)
    assert not ping(g, "10.76.0.1", size=1373, dont_fragment=True)


def test_concurrent_connects_from_several_processes(ww: Wirework, netns: Namespaces, state_dir: str) -> None:
    host = ww.host.netns
    assert host is not None
    ww.network_create("busy", subnet="10.78.0.0/24")
    guests = [netns(f"c{i}") for i in range(6)]
    procs = [subprocess.Popen([*WIREWORK, "connect", "busy", g, "-p", f"{9000 + i}:80", "--netns", host,
                               "--state-dir", state_dir], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "WIREWORK_NO_SERVICE": "1"})
             for i, g in enumerate(guests)]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    ips = sorted(g_["ip"] for g_ in ww.network_inspect("busy")["guests"])
    assert ips == [f"10.78.0.{i}/24" for i in range(2, 8)]
    assert all(ping(g, "10.78.0.1") for g in guests)
    ports = sh("nft", "list", "map", "inet", "wirework", "port_port", ns=host)
    assert all(f"tcp . {9000 + i}" in ports for i in range(6))


def test_a_network_name_with_a_dot_works(ww: Wirework, netns: Namespaces) -> None:
    host = ww.host.netns
    assert host is not None
    g = netns("dot")
    net = ww.network_create("web.x", subnet="10.63.0.0/24").network
    assert "." not in net.bridge  # `IF.N` reads as a VLAN interface, and sysctl keys split on dots
    assert sh("sysctl", "-n", f"net.ipv4.conf.{net.bridge}.route_localnet", ns=host).strip() == "1"
    ww.connect("web.x", g)
    assert ping(g, "10.63.0.1")
    ww.network_rm("web.x", force=True)
    assert net.bridge not in sh("ip", "-o", "link", ns=host)


def test_sysctl_of_an_interface_with_a_dot_in_its_name(ww: Wirework) -> None:
    host = ww.host.netns
    assert host is not None
    sh("ip", "link", "add", "br.x", "type", "bridge", ns=host)
    key = "net.ipv4.conf.br/x.route_localnet"  # sysctl(8)'s spelling: '/' stands for a dot in a name
    assert ww.host.sysctl.get(key) == "0"
    ww.host.sysctl.set(key, "1")
    assert sh("cat", "/proc/sys/net/ipv4/conf/br.x/route_localnet", ns=host).strip() == "1"

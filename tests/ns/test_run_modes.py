"""The five modes (S1) with `wirework run`, without Docker: bridge, host, none, container:, NETWORK."""

from __future__ import annotations

import json
import os
import subprocess
import time

from tests.conftest import Namespaces, ping, sh
from tests.ns.helpers import cli
from wirework.api import Wirework


def test_bridge_none_host_network_and_container_modes(ww: Wirework, netns: Namespaces, state_dir: str) -> None:
    host = ww.host.netns
    assert host is not None
    ww.network_create("user1", subnet="10.81.0.0/24")
    out = cli(host, state_dir, "run", "--net", "bridge", "--name", "wwtmb", "--", "ip", "-o", "-4", "addr").stdout
    default = ww.network_inspect("wirework0")  # created on first use, like docker0
    assert default["bridge"] == "ww-wirework0"
    prefix = default["gateway"].rsplit(".", 1)[0]
    assert f"eth0    inet {prefix}." in out
    assert "wwtmb" not in sh("ip", "netns", "list")  # a foreground guest is removed when it ends
    assert ww.network_inspect("wirework0")["guests"] == [] and ww.network_inspect("wirework0")["leases"] == []

    out = cli(host, state_dir, "run", "--net", "none", "--name", "wwtmn", "--", "ip", "-o", "link").stdout
    assert [ln.split(":")[1].strip() for ln in out.splitlines()] == ["lo"]

    out = cli(host, state_dir, "run", "--net", "host", "--", "ip", "-o", "link").stdout
    assert "ww-wirework0" in out and "ww-user1" in out  # the host's own namespace

    out = cli(host, state_dir, "run", "--net", "user1", "--name", "wwtmu", "--ip", "10.81.0.50", "--",
              "ip", "route").stdout
    assert "default via 10.81.0.1 dev eth0" in out and "src 10.81.0.50" in out
    out = cli(host, state_dir, "run", "--net", "user1", "--no-default-route", "--", "ip", "route").stdout
    assert "default" not in out and "10.81.0.0/24 dev eth0" in out  # as connect --no-default-route

    pod = netns("pod")
    ww.connect("user1", pod, ip="10.81.0.60")
    out = cli(host, state_dir, "run", "--net", f"container:{pod}", "--", "ip", "-o", "-4", "addr").stdout
    assert "10.81.0.60/24" in out  # the other guest's namespace, as in a pod


def test_detached_guest_is_listed_with_its_mode_and_removed(ww: Wirework, state_dir: str) -> None:
    host = ww.host.netns
    assert host is not None
    ww.network_create("svc", subnet="10.82.0.0/24")
    cli(host, state_dir, "run", "-d", "--net", "svc", "--name", "wwtmd", "-p", "8080:80", "--",
        "busybox", "httpd", "-f", "-p", "80", "-h", "/")
    try:
        assert os.path.exists(os.path.join(state_dir, "run-wwtmd.log"))  # its output, beside the state
        rows = json.loads(cli(host, state_dir, "ps", "--json").stdout)
        assert [(r["name"], r["mode"], r["state"]) for r in rows] == [("wwtmd", "svc", "running")]
        info = ww.network_inspect("svc")["guests"]
        assert [(g["guest"], g["mode"], g["ports"]) for g in info] == [("wwtmd", "svc", ["0.0.0.0:8080->80/tcp"])]
        assert cli(host, state_dir, "port", "wwtmd").stdout.strip() == "80/tcp -> 0.0.0.0:8080"
        deadline = time.time() + 5
        while time.time() < deadline and ":80 " not in sh("ss", "-ltn", ns="wwtmd"):
            time.sleep(0.05)
        assert ping("wwtmd", "10.82.0.1")
        for addr in ("127.0.0.1", "10.82.0.1"):  # published: from the host, on loopback and its own address
            out = subprocess.run(["ip", "netns", "exec", host, "busybox", "nc", "-w", "3", addr, "8080"],
                                 input="GET /etc/debian_version HTTP/1.0\r\n\r\n", capture_output=True, text=True,
                                 timeout=10).stdout
            assert out.startswith("HTTP/1.") and " 200 " in out.splitlines()[0], out
    finally:
        cli(host, state_dir, "rm", "wwtmd")
    assert "wwtmd" not in sh("ip", "netns", "list")
    assert ww.network_inspect("svc")["guests"] == []
    assert "8080" not in sh("nft", "list", "map", "inet", "wirework", "port_addr", ns=host)


def test_switching_a_running_guest_to_host_or_another_namespace_is_refused(ww: Wirework, netns: Namespaces,
                                                                           state_dir: str) -> None:
    host = ww.host.netns
    assert host is not None
    g, other = netns("sw"), netns("ot")
    for net in ("host", f"container:{other}"):
        done = cli(host, state_dir, "connect", net, g, check=False)
        assert done.returncode == 2 and "cannot be swapped" in done.stderr and "start it that way" in done.stderr
    done = cli(host, state_dir, "connect", "none", g, check=False)
    assert "wirework disconnect" in done.stderr
    done = cli(host, state_dir, "run", "--net", "none", "--ip", "10.0.0.5", "--", "true", check=False)
    assert done.returncode == 2 and "gives the guest no address" in done.stderr

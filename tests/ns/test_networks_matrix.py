"""The Proof: the whole reachability matrix, measured with real packets, in every combination
of internal / no-masquerade / no-icc / linked, from the host, a LAN neighbour and every guest.

Network A (10.201.0.0/24, the options vary) holds a1 and a2; network B (10.202.0.0/24) holds b1,
which publishes 8080->80 on every host address and 9090->90 on 127.0.0.1 only. The LAN
neighbour routes both subnets via the host (so direct access is decided by the firewall alone).
"""

from __future__ import annotations

import itertools

import pytest

from tests.conftest import Namespaces, sh
from tests.ns.helpers import cli
from wirework.api import Wirework

HOST_LAN, LAN_IP = "192.0.2.1", "192.0.2.2"


def _lan(host: str, lan: str) -> None:
    sh("ip", "link", "add", "lan0", "type", "veth", "peer", "name", "eth0", "netns", lan, ns=host)
    sh("ip", "addr", "add", f"{HOST_LAN}/24", "dev", "lan0", ns=host)
    sh("ip", "link", "set", "lan0", "up", ns=host)
    sh("ip", "addr", "add", f"{LAN_IP}/24", "dev", "eth0", ns=lan)
    sh("ip", "link", "set", "eth0", "up", ns=lan)
    for subnet in ("10.201.0.0/24", "10.202.0.0/24"):
        sh("ip", "route", "add", subnet, "via", HOST_LAN, ns=lan)


def _expected(internal: bool, masq: bool, icc: bool, linked: bool, a1: str, a2: str, b1: str,
              ips: dict[str, str]) -> dict[tuple[str, str], tuple[bool, str]]:
    """The promise, restated on its own: (reachable, source address the LAN should see)."""
    A = ["a1", "a2"]
    names = {"a1": a1, "a2": a2, "b1": b1}
    exp: dict[tuple[str, str], tuple[bool, str]] = {}
    for src in ["host", "lan", *A, "b1"]:
        s = names.get(src, src)
        for g in [*A, "b1"]:
            if g == src:
                continue
            if src == "host":
                ok = True
            elif src == "lan":
                ok = g in A and not internal and not masq
            elif src in A and g in A:
                ok = icc
            else:
                ok = linked
            exp[(s, f"{names[g]}@{'A' if g in A else 'B'}")] = (ok, "")
        if src != "b1":
            exp[(s, f"{b1}:*:8080/tcp")] = (src in ("host", "lan") or linked or not internal, "")
            exp[(s, f"{b1}:127.0.0.1:9090/tcp")] = (src == "host", "")
        if src not in ("host", "lan"):
            in_a = src in A
            seen = ips[src] if in_a and not masq else HOST_LAN
            ok = not (in_a and internal)
            exp[(s, "lan")] = (ok, seen if ok else "")
            exp[(s, "host")] = (True, "")
        elif src == "host":
            exp[(s, "lan")] = (True, "")
        else:
            exp[(s, "host")] = (True, "")
    return exp


@pytest.mark.parametrize("internal,no_masq,no_icc,linked", list(itertools.product([False, True], repeat=4)))
def test_reachability_matrix(ww: Wirework, netns: Namespaces, state_dir: str, internal: bool, no_masq: bool,
                             no_icc: bool, linked: bool) -> None:
    host = ww.host.netns
    assert host is not None
    lan, a1, a2, b1 = netns("lan"), netns("a1"), netns("a2"), netns("b1")
    _lan(host, lan)
    ww.network_create("A", subnet="10.201.0.0/24", internal=internal, masquerade=not no_masq, icc=not no_icc)
    ww.network_create("B", subnet="10.202.0.0/24")
    if linked:
        ww.network_link("A", "B")
    ips = {"a1": ww.connect("A", a1, default_route=True).endpoint.address,
           "a2": ww.connect("A", a2, default_route=True).endpoint.address}
    ww.connect("B", b1, default_route=True, publish=["8080:80", "127.0.0.1:9090:90"])
    result = ww.check(lan=lan, lan_addr=HOST_LAN)
    expected = _expected(internal, not no_masq, not no_icc, linked, a1, a2, b1, ips)
    observed = {(c.source, c.target): (bool(c.observed), c.seen_as if c.observed and c.target == "lan" and c.source != "host" else "")
                for c in result.cells}
    assert observed == expected
    assert result.consistent
    out = cli(host, state_dir, "check", "--lan", lan, "--lan-addr", HOST_LAN)
    assert out.stdout.rstrip().endswith("consistent")

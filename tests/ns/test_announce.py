"""Gratuitous ARP from inside a namespace (`Arp.announce`): a peer holding a stale MAC for the
address learns the new one at once (issue 10: Docker gives a container a new MAC each time it
joins a network)."""

from __future__ import annotations

import time

from tests.conftest import Namespaces, sh


def _neighbour(ns: str, ip: str) -> str:
    return sh("ip", "-n", ns, "neigh", "show", ip)


def test_a_peer_replaces_a_stale_mac_when_the_address_is_announced(netns: Namespaces) -> None:
    from wirework.kernel.host import KernelHost

    peer, guest = netns("peer"), netns("guest")
    sh("ip", "-n", peer, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", guest)
    sh("ip", "-n", peer, "addr", "add", "10.77.3.1/24", "dev", "eth0")
    sh("ip", "-n", guest, "addr", "add", "10.77.3.2/24", "dev", "eth0")
    for ns in (peer, guest):
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
    real = sh("ip", "-n", guest, "-br", "link", "show", "eth0").split()[2]
    sh("ip", "-n", peer, "neigh", "replace", "10.77.3.2", "lladdr", "02:00:00:00:00:99", "dev", "eth0", "nud", "reachable")
    time.sleep(1.1)  # past the neighbour table's locktime, as after a real ping some time before
    kernel = KernelHost(None)
    try:
        assert kernel.arp.announce("10.77.3.2", f"/run/netns/{guest}", count=1)
        deadline = time.monotonic() + 5
        while real not in _neighbour(peer, "10.77.3.2") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert real in _neighbour(peer, "10.77.3.2")
        assert not kernel.arp.announce("10.77.3.9", f"/run/netns/{guest}", count=1)  # no interface holds it
        assert not kernel.arp.announce("10.77.3.2", f"/run/netns/{guest}-gone", count=1)
    finally:
        kernel.close()

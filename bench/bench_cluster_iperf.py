"""Throughput of each cluster data plane vs a plain bridge, in one run (iperf3, TCP, 1 stream).

    sudo .venv/bin/python bench/bench_cluster_iperf.py [--seconds 3]

Per driver: two namespace "hosts" on one underlay bridge, an agent each (in-memory shared store:
the store plays no part in forwarding), one guest per host connected through the cluster
network; iperf3 from one guest to the other, across the hosts. Baseline: two guests on one
wirework bridge network in one host. OVS drivers: a private userspace OVS per host.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from bench.cluster_lab import ClusterLab, guest_ip, sh
from bench.throughput import iperf, print_table

from wirework.cluster import registry
from wirework.cluster.model import validate_cluster_network
from wirework.testing import MemoryClusterStore


def cluster_run(driver: str, seconds: int) -> tuple[float, int, int]:
    lab = ClusterLab(driver[:3] + driver[-1])
    store = MemoryClusterStore()
    try:
        registry.define(store, validate_cluster_network("bench", driver=driver, subnet="10.250.0.0/16"))
        guests = []
        for label in ("a", "b"):
            lab.host(label, store, ovs=driver.startswith("ovs-"))
            lab.agent(label, store).start()
        for agent in lab.agents.values():
            agent.step(0.05)
        for label in ("a", "b"):
            guest = lab.ns(f"g{label}")
            lab.sessions[label].connect("bench", f"/run/netns/{guest}")
            guests.append(guest)
        mtu = int(sh("cat", "/sys/class/net/eth0/mtu", ns=guests[0]).strip())
        gbps, retr = iperf(guests[0], guests[1], guest_ip(guests[1]), seconds, port=5298, tries=20)
        return gbps, retr, mtu
    finally:
        lab.close()


def bridge_run(seconds: int) -> tuple[float, int, int]:
    lab = ClusterLab("br")
    try:
        lab.host("a")
        ww = lab.sessions["a"]
        ww.network_create("benchbr", subnet="10.251.0.0/24")
        guests = [lab.ns(f"g{i}") for i in (1, 2)]
        for guest in guests:
            ww.connect("benchbr", f"/run/netns/{guest}")
        gbps, retr = iperf(guests[0], guests[1], guest_ip(guests[1]), seconds, port=5298, tries=20)
        return gbps, retr, 1500
    finally:
        lab.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3)
    args = parser.parse_args()
    rows = []
    runs = [("plain bridge (wirework network, one host)", lambda: bridge_run(args.seconds))]
    runs += [(f"cluster {d} (two hosts)", lambda d=d: cluster_run(d, args.seconds))  # type: ignore[misc]
             for d in ("vxlan", "host-gw", "ovs-vxlan", "ovs-gre")]
    for name, run in runs:
        gbps, retr, mtu = run()
        rows.append((name, mtu, gbps, retr))
    print_table(args.seconds, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Throughput across a userspace OVS GRE/VXLAN tunnel vs. a plain Linux bridge, in one run.

    sudo .venv/bin/python bench/bench_tunnel.py [--seconds 3]

Tunnel runs: two throwaway "host" namespaces, each with a private OVS instance (userspace
datapath), an underlay veth between them, one guest namespace on each side wired to obr0 by
wirework, and `wirework tunnel add` on both; iperf3 (TCP, one stream) from guest to guest.
Bridge run: two guests on one Linux bridge in one host namespace. Prints a Markdown table.
Everything is made with unique names and removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from bench.throughput import iperf, print_table

from wirework.api import Wirework
from wirework.kernel.ovs_instance import OvsInstance, start_instance

RUN = uuid.uuid4().hex[:5]


def sh(*argv: str, ns: str | None = None) -> str:
    full = ["ip", "netns", "exec", ns, *argv] if ns else list(argv)
    return subprocess.run(full, capture_output=True, text=True, check=True, timeout=120).stdout


class Lab:
    def __init__(self) -> None:
        self.spaces: list[str] = []
        self.instances: list[OvsInstance] = []
        self.state = tempfile.mkdtemp(prefix="wwbench")

    def ns(self, label: str) -> str:
        name = f"wwb{RUN}{label}"
        sh("ip", "netns", "add", name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        self.spaces.append(name)
        return name

    def close(self) -> None:
        for inst in self.instances:
            inst.stop()
            shutil.rmtree(inst.rundir, ignore_errors=True)
        for name in reversed(self.spaces):
            subprocess.run(["ip", "netns", "del", name], check=False)
        shutil.rmtree(self.state, ignore_errors=True)


def tunnel_run(lab: Lab, type_: str, seconds: int) -> tuple[float, int, int]:
    tag = type_[0]
    hosts = [lab.ns(f"{tag}h{i}") for i in (1, 2)]
    guests = [lab.ns(f"{tag}g{i}") for i in (1, 2)]
    sh("ip", "link", "add", "eth0", "netns", hosts[0], "type", "veth", "peer", "name", "eth0", "netns", hosts[1])
    for i, host in enumerate(hosts):
        sh("ip", "-n", host, "addr", "add", f"10.98.0.{i + 1}/24", "dev", "eth0")
        sh("ip", "-n", host, "link", "set", "eth0", "up")
        inst = start_instance(host, tempfile.mkdtemp(prefix="wwbo", dir="/tmp"))
        lab.instances.append(inst)
        with Wirework(host, state_dir=lab.state, ovs_db=inst.db_socket) as ww:
            ww.attach(f"/run/netns/{guests[i]}", "obr0", ip=f"172.18.1.{10 + i}/24", create="ovs")
            ww.tunnel_add("obr0", f"10.98.0.{2 - i}", type_=type_)
    mtu = int(sh("cat", "/sys/class/net/eth1/mtu", ns=guests[0]).strip())
    gbps, retr = iperf(guests[0], guests[1], "172.18.1.11", seconds, port=5299, tries=10)
    return gbps, retr, mtu


def bridge_run(lab: Lab, seconds: int) -> tuple[float, int, int]:
    host = lab.ns("bh")
    guests = [lab.ns(f"bg{i}") for i in (1, 2)]
    with Wirework(host, state_dir=lab.state) as ww:
        for i, guest in enumerate(guests):
            ww.attach(f"/run/netns/{guest}", "br0", ip=f"172.18.2.{10 + i}/24", create="linux")
    gbps, retr = iperf(guests[0], guests[1], "172.18.2.11", seconds, port=5299, tries=10)
    return gbps, retr, 1500


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3)
    args = parser.parse_args()
    lab = Lab()
    rows = []
    try:
        for name, run in (("Linux bridge (veth, same host)", lambda: bridge_run(lab, args.seconds)),
                          ("OVS userspace GRE tunnel", lambda: tunnel_run(lab, "gre", args.seconds)),
                          ("OVS userspace VXLAN tunnel", lambda: tunnel_run(lab, "vxlan", args.seconds))):
            gbps, retr, mtu = run()
            rows.append((name, mtu, gbps, retr))
    finally:
        lab.close()
    print_table(args.seconds, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

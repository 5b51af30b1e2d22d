"""Benchmark `lab up`: the two-host OVS GRE example, and a 20 hosts x 10 guests VXLAN mesh.

Run as root: .venv/bin/python bench/bench_lab.py [--runs 3] [--hosts 20 --guests 10]
Prints seconds per `lab up` (the in-process API the CLI calls) and peak RSS of this process and
its children (the OVS daemons are detached, so not counted); for the mesh also a `lab check`
sample (cross-host pings and don't-fragment pings through the tunnels) and `lab down` time.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time

from wirework.api.lab import lab_manager
from wirework.lab.lifecycle import LabManager

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "ovs-gre.yaml")


def scale_file(hosts: int, guests: int) -> str:
    """A VXLAN mesh: every host a Linux bridge + VXLAN device (VNI 42) with a static FDB entry to
    each other host, all guests on one subnet (10.244.0.0/16) across hosts."""
    lines = ["name: scale", "hosts:"]
    for h in range(1, hosts + 1):
        lines += [f"  h{h}:", "    setup:",
                  f"      - vxlan: {{name: vx42, vni: 42, bridge: br0, local: 192.168.200.{h}, peers: all}}",
                  "    guests:"]
        lines += [f"      g{h}x{g}: {{attach: {{bridge: br0, ip: 10.244.{h}.{g}/16}}}}" for g in range(1, guests + 1)]
    lines += ["segments:", "  lan:", "    subnet: 192.168.200.0/24", "    members:"]
    lines += [f"      h{h}: 192.168.200.{h}/24" for h in range(1, hosts + 1)]
    far, mid = f"g{hosts}x{guests}", f"g{hosts // 2}x{guests // 2}"
    lines += ["expect:", f"  - {{from: g1x1, to: [g1x2, g2x1, {mid}, {far}]}}", f"  - {{from: {far}, to: [g1x1, {mid}]}}",
              f"  - {{from: g1x1, to: {far}, mtu: 1450}}", f"  - {{from: g1x1, to: {far}, mtu: 1451, result: fail}}"]
    path = os.path.join(tempfile.mkdtemp(), "scale.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(line for line in lines if line) + "\n")
    return path


def scale_run(mgr: LabManager, hosts: int, guests: int) -> None:
    from wirework.lab.check import run_matrix

    topo = mgr.load(scale_file(hosts, guests))
    started = time.monotonic()
    mgr.up(topo)
    up = time.monotonic() - started
    started = time.monotonic()
    outcomes = run_matrix(topo, mgr.names(topo.name))
    check = time.monotonic() - started
    started = time.monotonic()
    errors = mgr.down(topo.name)
    down = time.monotonic() - started
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    fdb = hosts * (hosts - 1)
    print(f"lab up VXLAN mesh {hosts} hosts x {guests} guests ({1 + hosts + hosts * guests} namespaces, "
          f"{hosts} VXLAN devices, {fdb} FDB entries): {up:.2f} s, peak RSS {peak / 1024:.0f} MiB")
    ok = sum(o.ok for o in outcomes)
    print(f"lab check sample: {ok}/{len(outcomes)} as expected in {check:.2f} s "
          f"({', '.join(f'{o.probe.source}->{o.probe.target} {o.probe.test} {o.got}' for o in outcomes)})")
    print(f"lab down: {down:.2f} s" + (f" (left: {errors})" if errors else ""))


def timed_up(mgr: LabManager, path: str) -> float:
    topo = mgr.load(path)
    started = time.monotonic()
    mgr.up(topo)
    elapsed = time.monotonic() - started
    mgr.down(topo.name)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--guests", type=int, default=10)
    args = parser.parse_args()
    mgr = lab_manager(tempfile.mkdtemp())
    gre = [timed_up(mgr, EXAMPLE) for _ in range(args.runs)]
    print(f"lab up ovs-gre (2 hosts, 2 OVS instances, GRE): median {statistics.median(gre):.2f} s, "
          f"runs {', '.join(f'{t:.2f}' for t in gre)}")
    scale_run(mgr, args.hosts, args.guests)


if __name__ == "__main__":
    main()

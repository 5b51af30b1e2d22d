"""Benchmark `lab up`: the two-host OVS GRE example, and 20 hosts x 10 guests on one LAN.

Run as root: .venv/bin/python bench/bench_lab.py [--runs 3]
Prints seconds per `lab up` (the in-process API the CLI calls) and peak RSS of this process and
its children (the OVS daemons are detached, so not counted).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time

from wirework.lab.lifecycle import LabManager

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "ovs-gre.yaml")


def scale_file(hosts: int, guests: int) -> str:
    lines = ["name: scale", "hosts:"]
    for h in range(1, hosts + 1):
        lines += [f"  h{h}:", "    setup:", f"      - bridge: {{name: cbr0, address: 10.{h}.0.1/24}}", "    guests:"]
        lines += [f"      g{h}x{g}: {{attach: {{bridge: cbr0, ip: 10.{h}.0.{g + 1}/24, gateway: 10.{h}.0.1}}}}"
                  for g in range(1, guests + 1)]
    lines += ["segments:", "  lan:", "    subnet: 192.168.200.0/24", "    members:"]
    lines += [f"      h{h}: 192.168.200.{h}/24" for h in range(1, hosts + 1)]
    lines += ["expect:", "  - {from: g1x1, to: [g1x2, h2]}"]
    path = os.path.join(tempfile.mkdtemp(), "scale.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(line for line in lines if line) + "\n")
    return path


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
    args = parser.parse_args()
    mgr = LabManager(tempfile.mkdtemp())
    gre = [timed_up(mgr, EXAMPLE) for _ in range(args.runs)]
    print(f"lab up ovs-gre (2 hosts, 2 OVS instances, GRE): median {statistics.median(gre):.2f} s, "
          f"runs {', '.join(f'{t:.2f}' for t in gre)}")
    scale = timed_up(mgr, scale_file(20, 10))
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(f"lab up 20 hosts x 10 guests (221 namespaces, 1 LAN segment): {scale:.2f} s, peak RSS {peak / 1024:.0f} MiB")


if __name__ == "__main__":
    main()

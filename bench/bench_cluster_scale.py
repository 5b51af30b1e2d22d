"""Scale of a cluster network: 50 namespace hosts x 10 guests in one VXLAN network.

    sudo .venv/bin/python bench/bench_cluster_scale.py [--hosts 50] [--guests 10]

One etcd member on loopback (tmpfs). Each host is a namespace on one underlay bridge and runs
its own `wirework agent` process (as on real machines); its guests are connected through the
API after it joined. Measured: each agent's join time (its own log: lease, claims, first
convergence), etcd requests per join (etcd's own gRPC counters around the join, keepalives of
the other agents and watch streams left out), every agent's resident memory at the end, and how
long the last host's subnet takes to reach every other host's routing table.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from bench.cluster_lab import ClusterLab, sh

from wirework.api import Wirework
from wirework.store import open_cluster_store
from wirework.store.etcd_members import start_cluster

JOINED = re.compile(r"joined in (\d+) ms")
COUNTED = ("Range", "Txn", "Put", "DeleteRange", "LeaseGrant", "LeaseRevoke")


def grpc_counts(metrics_url: str) -> dict[str, float]:
    text = urllib.request.urlopen(metrics_url, timeout=5).read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("grpc_server_handled_total{"):
            method = re.search(r'grpc_method="([^"]+)"', line)
            if method and method.group(1) in COUNTED:
                out[method.group(1)] = out.get(method.group(1), 0.0) + float(line.rsplit(" ", 1)[1])
    return out


def start_agent(lab: ClusterLab, label: str, url: str, log: str) -> subprocess.Popen[bytes]:
    ns, ip = lab.hosts[label]
    argv = [sys.executable, "-m", "wirework.cli.main", "--store", url, "agent", "--netns", ns,
            "--state-dir", f"{lab.state}/{label}", "--public-ip", ip, "--lease-ttl", "10s"]
    env = {**os.environ, "WIREWORK_NO_SERVICE": "1"}
    with open(log, "wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)


def wait_joined(log: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(log, encoding="utf-8", errors="replace") as f:
            found = JOINED.search(f.read())
        if found:
            return float(found.group(1))
        if proc.poll() is not None:
            with open(log, encoding="utf-8", errors="replace") as f:
                raise RuntimeError(f"agent exited: {f.read()[-500:]}")
        time.sleep(0.02)
    raise RuntimeError(f"agent did not join in {timeout} s")


def spread_of(lab: ClusterLab, shared: object, label: str, hosts: int) -> tuple[float, int]:
    """From the newest host's join until its subnet is in every other host's routing table."""
    from wirework.cluster import registry

    ns = lab.hosts[label][0]
    t0 = time.monotonic()
    subnet = next(r.subnet for r, _ in registry.host_subnets(shared, "scale") if r.host == ns)  # type: ignore[arg-type]
    pending = {lab.hosts[f"h{i}"][0] for i in range(hosts - 1)}
    while pending and time.monotonic() - t0 < 60:
        pending = {p for p in pending if subnet not in sh("ip", "route", "show", "proto", "87", ns=p)}
    return time.monotonic() - t0, len(pending)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return kb / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--guests", type=int, default=10)
    args = parser.parse_args()
    etcd = start_cluster(f"bench-scale-{os.getpid()}", members=1, owner_pid=os.getpid())
    url, metrics = etcd.url, f"http://{etcd.members[0].host}:{etcd.members[0].client_port}/metrics"
    lab = ClusterLab("sc")
    procs: dict[str, subprocess.Popen[bytes]] = {}
    joins, requests = [], {}
    try:
        shared = open_cluster_store(url)
        with Wirework(store=url) as admin:
            admin.cluster_network_create("scale", driver="vxlan", subnet="10.200.0.0/16")
        for i in range(args.hosts):
            label = f"h{i}"
            lab.host(label)
            log = f"{lab.state}/{label}.log"
            before = grpc_counts(metrics)
            procs[label] = start_agent(lab, label, url, log)
            joins.append(wait_joined(log, procs[label]))
            after = grpc_counts(metrics)
            requests[i + 1] = sum(after.get(k, 0) - before.get(k, 0) for k in COUNTED)
            if i == args.hosts - 1:
                spread, missing = spread_of(lab, shared, label, args.hosts)
            with Wirework(netns=lab.hosts[label][0], state_dir=f"{lab.state}/{label}") as ww:
                for j in range(args.guests):
                    ww.connect("scale", f"/run/netns/{lab.ns(f'g{i}x{j}')}")
        memory = sorted(rss_mb(p.pid) for p in procs.values())
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        lab.close()
        etcd.stop()
    print(f"{args.hosts} hosts x {args.guests} guests, one VXLAN network, one etcd member on loopback; "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print("| what | median | p90 | max |\n|---|---|---|---|")
    js = sorted(joins)
    print(f"| join time per host (ms) | {statistics.median(js):.0f} | {js[int(len(js) * 0.9)]:.0f} | {js[-1]:.0f} |")
    print(f"| agent resident memory at the end (MB) | {statistics.median(memory):.1f} | "
          f"{memory[int(len(memory) * 0.9)]:.1f} | {memory[-1]:.1f} |")
    picks = [1, 2, args.hosts // 2, args.hosts]
    print("\netcd requests per join (Range, Txn, Put, DeleteRange, LeaseGrant, LeaseRevoke): "
          + ", ".join(f"host {n}: {requests[n]:.0f}" for n in picks if n in requests))
    print(f"the last host's subnet in every other host's routes after its join: {spread * 1000:.0f} ms"
          + (f" ({missing} never got it)" if missing else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Convergence of cluster networks on a local etcd: guest connect -> reachable from another host,
host join -> its routes on the others, host death -> its entries gone everywhere.

    sudo .venv/bin/python bench/bench_cluster_converge.py [--guests 20] [--joins 10] [--deaths 5]

Hosts are namespaces on one underlay bridge; each runs its agent in a thread of this process
(stepping as `wirework agent` does); one etcd member on loopback (tmpfs). Times are wall clock,
measured here: "connect" is `Wirework.connect` on host A; "answering" polls `ping -c1 -W1` from a
guest on host B; "routes" polls host B's routing table through its own netlink socket (1 ms).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from bench.cluster_lab import ClusterLab, guest_ip
from bench.throughput import answers

from wirework.api import Wirework
from wirework.cluster import registry
from wirework.cluster.model import validate_cluster_network
from wirework.store import open_store, store_config
from wirework.store.etcd_members import start_cluster

TTL = 2.0


def stats(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
    return f"{statistics.median(ms):.1f} | {p90:.1f} | {ms[-1]:.1f}"


def wait_route(probe: Wirework, subnet: str, present: bool, timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(r.dst == subnet for r in probe.host.net.routes(table=254)) == present:
            return time.monotonic()
        time.sleep(0.001)
    raise RuntimeError(f"route to {subnet} did not {'appear' if present else 'go'} in {timeout} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guests", type=int, default=20)
    parser.add_argument("--joins", type=int, default=10)
    parser.add_argument("--deaths", type=int, default=5)
    args = parser.parse_args()
    member = start_cluster(f"bench-conv-{os.getpid()}", members=1, owner_pid=os.getpid())
    lab = ClusterLab("cv")
    store = lambda: open_store(store_config(member.url, prefix="/bench/", env={}))  # noqa: E731 - a client per host
    try:
        registry.define(store(), validate_cluster_network("conv", driver="vxlan", subnet="10.252.0.0/16"))
        for label in ("a", "b"):
            lab.host(label)
            lab.agent(label, store(), TTL)
            lab.run_in_thread(label)
        # The agents' sessions belong to their threads: connect through sessions of our own, as
        # a `wirework connect` process would.
        user = {label: Wirework(netns=lab.hosts[label][0], state_dir=f"{lab.state}/{label}") for label in ("a", "b")}
        observer = lab.ns("gb")
        user["b"].connect("conv", f"/run/netns/{observer}")
        probe = Wirework(netns=lab.hosts["b"][0], state_dir=f"{lab.state}/probe")
        connect, answer = [], []
        for i in range(args.guests):
            guest = lab.ns(f"ga{i}")
            t0 = time.monotonic()
            user["a"].connect("conv", f"/run/netns/{guest}")
            connect.append(time.monotonic() - t0)
            addr = guest_ip(guest)
            deadline = t0 + 30
            while not answers(observer, addr):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{addr} on host A does not answer host B")
            answer.append(time.monotonic() - t0)
        join, routes = [], []
        for i in range(args.joins):
            label = f"j{i}"
            lab.host(label)
            agent = lab.agent(label, store(), TTL)
            t0 = time.monotonic()
            join.append(lab.run_in_thread(label))
            routes.append(wait_route(probe, agent.mine["conv"].subnet, True) - t0)
            lab.halt(label)  # one joining host at a time beside A and B (the agents share this process)
            agent.stop(leave=True)
        death = []
        for i in range(args.deaths):
            label = f"d{i}"
            lab.host(label)
            agent = lab.agent(label, store(), TTL)
            lab.run_in_thread(label)
            subnet = agent.mine["conv"].subnet
            wait_route(probe, subnet, True)
            lab.halt(label)  # the agent stops renewing, as a host that lost power
            expires = agent.renewed_at + TTL
            death.append(wait_route(probe, subnet, False) - expires)
        probe.close()
        for session in user.values():
            session.close()
    finally:
        lab.close()
        member.stop()
    print(f"vxlan, one etcd member on loopback, lease TTL {TTL:g} s; load average {os.getloadavg()[0]:.1f}\n")
    print("| what | samples | median ms | p90 ms | max ms |\n|---|---|---|---|---|")
    print(f"| connect a guest on host A (API) | {len(connect)} | {stats(connect)} |")
    print(f"| ... until it answers a guest on host B | {len(answer)} | {stats(answer)} |")
    print(f"| a host joins (agent start: lease, claims, first convergence) | {len(join)} | {stats(join)} |")
    print(f"| ... until host B routes to its subnet | {len(routes)} | {stats(routes)} |")
    print(f"| a host dies: its route gone from host B, after lease expiry | {len(death)} | {stats(death)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

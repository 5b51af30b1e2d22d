"""Cluster networks through Docker (issue 10 on issue 9), in one run:

    sudo .venv/bin/python bench/bench_docker_cluster.py [--containers 10] [--json]

A private etcd and a wirework service started with `--store` (so it runs this host's agent and
serves the plugin under a name unique to this run, call trace on), on the machine's dockerd:

1. `docker network create -d P --ipam-driver P --subnet S -o wirework.driver=vxlan NAME`: the
   command's wall time, and from its start to this host's share being built by the agent (the
   definition is written when Docker's event brings the name; the agent sees it by its watch,
   leases a subnet and builds the bridge and the VXLAN device).
2. `docker run -d --net NAME` start time on that cluster network vs a wirework bridge network
   (`-d P` without the option), N containers each, alternately; and the time inside the plugin
   per call from the trace.

Everything made carries this run's names and is removed at the end (containers one at a time;
the cluster network with `wirework network rm --force`, so the agent takes the host's part down).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_docker import IMAGE, docker, plugin_calls, service_setting, stats, wirework


def built(env: dict[str, str], name: str) -> bool:
    """Whether the agent has recorded this host's part (read from the state store: ~1 ms a poll;
    the record is written in the transaction that closes the plan that built it)."""
    from wirework.store.sqlite import SqliteStore

    store = SqliteStore(os.path.join(env["WIREWORK_STATE_DIR"], "state.db"))
    try:
        entry = store.get(f"net/-/{name}")
        return entry is not None and bool(entry.value.get("driver"))
    finally:
        store.close()


def bench(env: dict[str, str], plugin: str, run: str, n: int, made: list[str], nets: list[str]) -> dict[str, Any]:
    cluster, local = f"wwk{run}c", f"wwk{run}b"
    second = random.randrange(150, 180)
    t0 = time.perf_counter()
    docker("network", "create", "-d", plugin, "--ipam-driver", plugin, "--subnet", f"10.{second}.0.0/16",
           "-o", "wirework.driver=vxlan", "-o", f"wirework.vni={random.randrange(100000, 16000000)}", cluster)
    created = (time.perf_counter() - t0) * 1000
    nets.append(cluster)
    while not built(env, cluster):
        if time.perf_counter() - t0 > 60:
            raise RuntimeError("the agent did not build the cluster network within 60 s")
        time.sleep(0.01)
    ready = (time.perf_counter() - t0) * 1000
    docker("network", "create", "-d", plugin, "--ipam-driver", plugin, "--subnet", "10.187.0.0/24", local)
    nets.append(local)
    times: dict[str, list[float]] = {"cluster (vxlan)": [], "bridge": []}
    order = (("cluster (vxlan)", cluster), ("bridge", local))
    for i in range(n):
        for kind, net in order if i % 2 == 0 else order[::-1]:
            name = f"wwk{run}{kind[0]}{i}"
            made.append(name)
            t1 = time.perf_counter()
            docker("run", "-d", "--name", name, "--net", net, IMAGE, "sleep", "3600")
            times[kind].append((time.perf_counter() - t1) * 1000)
    return {"network_create_ms": round(created, 1), "create_to_share_built_ms": round(ready, 1),
            "docker_run_ms": {kind: stats(values) for kind, values in times.items()}}


def main() -> None:
    from wirework.store.etcd_members import start_cluster

    parser = argparse.ArgumentParser()
    parser.add_argument("--containers", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    run, plugin, rundir, env = service_setting()
    etcd = start_cluster(f"bdc{run}", members=1, owner_pid=os.getpid())
    store = ["--store", etcd.url, "--store-prefix", f"/wwbench/{run}/"]
    made: list[str] = []
    nets: list[str] = []
    result: dict[str, Any] = {}
    try:
        wirework(env, "service", "start", "--socket", env["WIREWORK_SOCKET"], *store)
        result.update(bench(env, plugin, run, args.containers, made, nets))
        result["plugin_call_ms"] = plugin_calls(env["WIREWORK_SOCKET"] + ".log")
        result["load_average"] = os.getloadavg()[0]
    finally:
        for name in made:
            docker("rm", "-f", name, check=False)
        for net in nets:
            docker("network", "rm", net, check=False)
        subprocess.run([sys.executable, "-m", "wirework.cli.main", "network", "rm", f"wwk{run}c", "--force", *store],
                       env={**env, "WIREWORK_NO_SERVICE": "1"}, capture_output=True, timeout=120, check=False)
        deadline = time.monotonic() + 30
        while built(env, f"wwk{run}c") and time.monotonic() < deadline:
            time.sleep(0.1)
        wirework(env, "service", "stop", "--socket", env["WIREWORK_SOCKET"])
        etcd.stop()
        shutil.rmtree(rundir, ignore_errors=True)
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()

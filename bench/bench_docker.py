"""Docker integration speed (issue 10), in one run:

    sudo .venv/bin/python bench/bench_docker.py [--containers 20] [--json]

1. `docker run -d --net NAME` start time: a network of the wirework driver vs one of Docker's
   built-in bridge driver, N containers each, run alternately (same load for both), on the
   machine's dockerd (its iptables on, as for real users). The wirework plugin is served by a
   wirework service started here with a plugin name unique to this run.
2. Re-attach latency: N `--net=none` containers wired by `wirework pipework`, each restarted
   once; from Docker's `start` event (its timeNano) to (a) the re-applied attachment's record
   (committed right after the address was added) and (b) the address seen by polling the
   container's namespace (an upper bound: polling starts once the container's pid is known).

Everything made here carries this run's unique names and is removed at the end, one container
at a time (dockerd 20.10 deadlocks under concurrent removal).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Any

DOCKER = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"
IMAGE = os.environ.get("WIREWORK_TEST_IMAGE", "wirework-busybox:latest")


def docker(*args: str, check: bool = True) -> str:
    done = subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=120, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def wirework(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "wirework.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wirework {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median": round(statistics.median(ordered), 1), "p90": round(ordered[max(0, int(len(ordered) * 0.9) - 1)], 1),
            "min": round(ordered[0], 1), "max": round(ordered[-1], 1)}


def bench_run(env: dict[str, str], plugin: str, run: str, n: int, made: list[str], nets: list[str]) -> dict[str, Any]:
    ww_net, br_net = f"wwb{run}w", f"wwb{run}b"
    docker("network", "create", "-d", plugin, "--ipam-driver", plugin, "--subnet", "10.188.0.0/24", ww_net)
    nets.append(ww_net)
    docker("network", "create", "-d", "bridge", "--subnet", "10.188.1.0/24", br_net)
    nets.append(br_net)
    times: dict[str, list[float]] = {"wirework": [], "bridge": []}
    for i in range(n):
        for kind, net in (("wirework", ww_net), ("bridge", br_net)) if i % 2 == 0 else (("bridge", br_net), ("wirework", ww_net)):
            name = f"wwb{run}{kind[0]}{i}"
            made.append(name)
            t0 = time.perf_counter()
            docker("run", "-d", "--name", name, "--net", net, IMAGE, "sleep", "3600")
            times[kind].append((time.perf_counter() - t0) * 1000)
    return {kind: stats(values) for kind, values in times.items()}


def _address_seen(pid: int, ip: str, deadline: float) -> float | None:
    """Poll the container's namespace for the address (its local routes, /proc/PID/net/fib_trie:
    a file read, ~0.1 ms); the wall-clock time it was first seen."""
    needle = f"|-- {ip}\n"
    while time.time() < deadline:
        try:
            with open(f"/proc/{pid}/net/fib_trie", encoding="ascii") as f:
                text = f.read()
        except OSError:
            return None
        if needle in text.partition("Local:")[2]:
            return time.time()
        time.sleep(0.0005)
    return None


def bench_reattach(env: dict[str, str], run: str, n: int, made: list[str]) -> dict[str, Any]:
    from wirework.store.sqlite import SqliteStore

    bridge = f"brb{run}"
    names = []
    for i in range(n):
        name = f"wwb{run}r{i}"
        made.append(name)
        docker("run", "-d", "--name", name, "--net=none", IMAGE, "sleep", "3600")
        wirework(env, "pipework", bridge, "-i", "eth1", name, f"10.188.2.{10 + i}/24")
        names.append(name)
    events = subprocess.Popen([DOCKER, "events", "--format", "{{json .}}", "--filter", "event=start",
                               "--filter", "type=container"], stdout=subprocess.PIPE, text=True)
    starts: dict[str, int] = {}
    reader = threading.Thread(target=_read_starts, args=(events, starts), daemon=True)
    reader.start()
    store = SqliteStore(os.path.join(env["WIREWORK_STATE_DIR"], "state.db"))
    record, polled = [], []
    try:
        for i, name in enumerate(names):
            cid = docker("inspect", "-f", "{{.Id}}", name)
            docker("restart", "-t", "0", name)
            deadline = time.time() + 10
            while cid not in starts and time.time() < deadline:
                time.sleep(0.001)
            pid = int(docker("inspect", "-f", "{{.State.Pid}}", name))
            seen = _address_seen(pid, f"10.188.2.{10 + i}", deadline)
            committed = _committed(store, cid, deadline)
            if cid in starts and seen is not None and committed is not None:
                polled.append((seen - starts[cid] / 1e9) * 1000)
                record.append((committed - starts[cid] / 1e9) * 1000)
    finally:
        events.terminate()
        store.close()
    return {"restarts": len(names), "measured": len(record), "record_ms": stats(record) if record else {},
            "address_seen_ms": stats(polled) if polled else {}, "bridge": bridge}


def _read_starts(proc: subprocess.Popen[str], starts: dict[str, int]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line)
        starts.setdefault(event.get("id", ""), int(event.get("timeNano") or 0))


def _committed(store: Any, cid: str, deadline: float) -> float | None:
    while time.time() < deadline:
        for entry in store.scan("att/-/"):
            if entry.value["guest"]["key"] == f"docker:{cid}" and not entry.value.get("suspended") \
                    and entry.value["guest"]["pid"]:
                pid = entry.value["guest"]["pid"]
                if os.path.exists(f"/proc/{pid}") and entry.value["created"] > 0:
                    current = docker("inspect", "-f", "{{.State.Pid}}", cid)
                    if str(pid) == current:
                        return float(entry.value["created"])
        time.sleep(0.002)
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--containers", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    run = uuid.uuid4().hex[:5]
    plugin = f"wirework-bench{run}"
    rundir = tempfile.mkdtemp(prefix="wwbench", dir="/tmp")
    state = os.path.join(rundir, "state")
    os.makedirs(state)
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "WIREWORK_STATE_DIR": state,
           "WIREWORK_SOCKET": os.path.join(rundir, "s.sock"), "WIREWORK_DOCKER_PLUGIN": plugin}
    made: list[str] = []
    nets: list[str] = []
    result: dict[str, Any] = {}
    wirework(env, "service", "start", "--socket", env["WIREWORK_SOCKET"])
    try:
        result["docker_run_ms"] = bench_run(env, plugin, run, args.containers, made, nets)
        result["reattach"] = bench_reattach(env, run, args.containers, made)
    finally:
        for name in made:
            docker("rm", "-f", name, check=False)
        for net in nets:
            docker("network", "rm", net, check=False)
        wirework(env, "gc")
        wirework(env, "service", "stop", "--socket", env["WIREWORK_SOCKET"])
        subprocess.run(["ip", "link", "del", f"brb{run}"], capture_output=True, check=False)
        shutil.rmtree(rundir, ignore_errors=True)
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()

"""Docker integration speed (issue 10), in one run:

    sudo .venv/bin/python bench/bench_docker.py [--containers 20] [--json]

1. `docker run -d --net NAME` start time: a network of the wirework driver vs one of Docker's
   built-in bridge driver, N containers each, run alternately (same load for both), on the
   machine's dockerd (its iptables on, as for real users). The wirework plugin is served by a
   wirework service started here with a plugin name unique to this run, with its call trace on:
   the time each plugin call took inside wirework is reported too (what the driver adds to a
   start, whatever the load on the machine does to the whole).
2. Re-attach latency: N `--net=none` containers wired by `wirework pipework`, each restarted
   once; from Docker's `start` event (its timeNano) to (a) the re-applied attachment's record
   (committed right after the address was added: an upper bound) and (b) the address seen by
   polling the container's namespace (also an upper bound when the address was there before the
   poll could start: polling needs the container's pid, one Engine API call after the event).

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
    from wirework.guests.docker import DockerClient

    client = DockerClient()
    events = client.event_stream(("container",), since=time.time())
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
            pid = int((client.inspect(cid) or {}).get("State", {}).get("Pid") or 0)  # the API: ~ms, not a CLI run
            seen = _address_seen(pid, f"10.188.2.{10 + i}", deadline)
            committed = _committed(store, cid, deadline)
            if cid in starts and seen is not None and committed is not None:
                polled.append((seen - starts[cid] / 1e9) * 1000)
                record.append((committed - starts[cid] / 1e9) * 1000)
    finally:
        events.close()
        store.close()
    return {"restarts": len(names), "measured": len(record), "record_ms": stats(record) if record else {},
            "address_seen_ms": stats(polled) if polled else {}, "bridge": bridge}


def _read_starts(events: Any, starts: dict[str, int]) -> None:
    for event in events:
        if event.get("Action") == "start":
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


def plugin_calls(log: str) -> dict[str, Any]:
    """Median time inside wirework per plugin call (from the service's trace), and their sum for
    one container start."""
    import re

    calls: dict[str, list[float]] = {}
    with open(log, encoding="utf-8", errors="replace") as f:
        for line in f:
            found = re.search(r"plugin /(\S+) \(([\d.]+) ms\)", line)
            if found:
                calls.setdefault(found.group(1), []).append(float(found.group(2)))
    out: dict[str, Any] = {k: round(statistics.median(v), 2) for k, v in sorted(calls.items())}
    per_start = ("IpamDriver.RequestAddress", "NetworkDriver.CreateEndpoint", "NetworkDriver.Join",
                 "NetworkDriver.ProgramExternalConnectivity", "NetworkDriver.EndpointOperInfo")
    out["one_start"] = round(sum(out.get(k, 0.0) for k in per_start) + out.get("NetworkDriver.EndpointOperInfo", 0.0), 2)
    return out


def service_setting() -> tuple[str, str, str, dict[str, str]]:
    """(run id, plugin name, run dir, environment) of a wirework service of this run's own."""
    run = uuid.uuid4().hex[:5]
    plugin = f"wirework-bench{run}"
    rundir = tempfile.mkdtemp(prefix="wwbench", dir="/tmp")
    state = os.path.join(rundir, "state")
    os.makedirs(state)
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "WIREWORK_STATE_DIR": state,
           "WIREWORK_SOCKET": os.path.join(rundir, "s.sock"), "WIREWORK_DOCKER_PLUGIN": plugin,
           "WIREWORK_DOCKER_TRACE": "1"}
    return run, plugin, rundir, env


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--containers", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    run, plugin, rundir, env = service_setting()
    made: list[str] = []
    nets: list[str] = []
    result: dict[str, Any] = {}
    wirework(env, "service", "start", "--socket", env["WIREWORK_SOCKET"])
    try:
        result["docker_run_ms"] = bench_run(env, plugin, run, args.containers, made, nets)
        result["plugin_call_ms"] = plugin_calls(env["WIREWORK_SOCKET"] + ".log")
        result["reattach"] = bench_reattach(env, run, args.containers, made)
        result["load_average"] = os.getloadavg()[0]
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

"""Create a network and connect N guests through the Python API; time per connect.

    sudo .venv/bin/python bench/bench_connect.py [--guests 100] [--json]

Everything happens in throwaway namespaces (a "host" and N guests), removed at the end.
Target (issue 3): at most 10 ms per connect through the API.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
import uuid


def _ns(name: str) -> None:
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--guests", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from wirework.api import Wirework

    run = uuid.uuid4().hex[:5]
    host = f"wwb{run}h"
    guests = [f"wwb{run}g{i}" for i in range(args.guests)]
    made = [host]
    _ns(host)
    try:
        for g in guests:
            _ns(g)
            made.append(g)
        with tempfile.TemporaryDirectory() as state, Wirework(netns=host, state_dir=state) as ww:
            t0 = time.perf_counter()
            ww.network_create("bench", subnet="10.150.0.0/16")
            create_ms = (time.perf_counter() - t0) * 1000
            times = []
            for g in guests:
                t = time.perf_counter()
                ww.connect("bench", g)
                times.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            ww.connect("bench", guests[0])
            noop_ms = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            for g in guests:
                ww.disconnect("bench", g)
            disconnect_ms = (time.perf_counter() - t) * 1000 / len(guests)
        result = {
            "guests": len(guests), "create_ms": round(create_ms, 1),
            "connect_ms_median": round(statistics.median(times), 2), "connect_ms_mean": round(statistics.mean(times), 2),
            "connect_ms_p90": round(sorted(times)[int(len(times) * 0.9) - 1], 2),
            "connect_ms_first": round(times[0], 2), "connect_ms_last10": round(statistics.mean(times[-10:]), 2),
            "repeat_connect_ms": round(noop_ms, 2), "disconnect_ms_mean": round(disconnect_ms, 2),
        }
        print(json.dumps(result, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    finally:
        for name in reversed(made):
            subprocess.run(["ip", "netns", "del", name], check=False)


if __name__ == "__main__":
    main()

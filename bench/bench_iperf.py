"""Throughput through a wirework network vs a bare veth pair, in the same run (iperf3, 3 s each).

    sudo .venv/bin/python bench/bench_iperf.py [--seconds 3] [--rounds 3] [--json]

guest-to-guest: two guests on one wirework network (bridge + nftables rules loaded);
guest-to-host: a guest to the host's address on the bridge; baseline: two namespaces joined
by a bare veth pair. All in throwaway namespaces, removed at the end. Target: >= 90%.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
import uuid


def sh(*argv: str, ns: str | None = None) -> str:
    full = ["ip", "netns", "exec", ns, *argv] if ns else list(argv)
    return subprocess.run(full, check=True, capture_output=True, text=True, timeout=60).stdout


def iperf(server_ns: str, client_ns: str, addr: str, seconds: int) -> float:
    server = subprocess.Popen(["ip", "netns", "exec", server_ns, "iperf3", "-s", "-1", "-B", addr],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            if f"{addr}:5201" in sh("ss", "-ltn", ns=server_ns):
                break
            time.sleep(0.05)
        out = json.loads(sh("iperf3", "-c", addr, "-t", str(seconds), "-J", ns=client_ns))
        return float(out["end"]["sum_received"]["bits_per_second"]) / 1e9
    finally:
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from wirework.api import Wirework

    run = uuid.uuid4().hex[:5]
    host, g1, g2, v1, v2 = (f"wwi{run}{x}" for x in ("h", "g1", "g2", "v1", "v2"))
    made: list[str] = []
    try:
        for name in (host, g1, g2, v1, v2):
            sh("ip", "netns", "add", name)
            made.append(name)
            sh("ip", "link", "set", "lo", "up", ns=name)
        sh("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", v2, ns=v1)
        sh("ip", "addr", "add", "10.160.0.1/24", "dev", "eth0", ns=v1)
        sh("ip", "addr", "add", "10.160.0.2/24", "dev", "eth0", ns=v2)
        sh("ip", "link", "set", "eth0", "up", ns=v1)
        sh("ip", "link", "set", "eth0", "up", ns=v2)
        with tempfile.TemporaryDirectory() as state, Wirework(netns=host, state_dir=state) as ww:
            net = ww.network_create("perf", subnet="10.161.0.0/24").network
            ww.connect("perf", g1, default_route=True)
            ip2 = ww.connect("perf", g2, default_route=True).endpoint.address
            runs: dict[str, list[float]] = {"bare_veth_gbps": [], "guest_to_guest_gbps": [], "guest_to_host_gbps": []}
            for _ in range(args.rounds):  # interleaved, so a noisy moment hits every path alike
                runs["bare_veth_gbps"].append(iperf(v2, v1, "10.160.0.2", args.seconds))
                runs["guest_to_guest_gbps"].append(iperf(g2, g1, ip2, args.seconds))
                runs["guest_to_host_gbps"].append(iperf(host, g1, net.gateway, args.seconds))
            result = {k: statistics.median(v) for k, v in runs.items()}
        result["guest_to_guest_pct"] = 100 * result["guest_to_guest_gbps"] / result["bare_veth_gbps"]
        result["guest_to_host_pct"] = 100 * result["guest_to_host_gbps"] / result["bare_veth_gbps"]
        result = {k: round(v, 2) for k, v in result.items()}
        print(json.dumps(result, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    finally:
        for name in reversed(made):
            subprocess.run(["ip", "netns", "del", name], check=False)


if __name__ == "__main__":
    main()

"""Shared by the throughput benchmarks (`bench_tunnel`, `bench_cluster_iperf`): one iperf3 TCP
run from a guest namespace to another, and the Markdown table they print.
"""

from __future__ import annotations

import json
import subprocess
import time


def answers(ns: str, addr: str) -> bool:
    return subprocess.run(["ip", "netns", "exec", ns, "ping", "-c1", "-W1", addr], capture_output=True).returncode == 0


def iperf(client: str, server: str, addr: str, seconds: int, *, port: int, tries: int) -> tuple[float, int]:
    """Gbit/s received and retransmits of one TCP stream from `client` to `addr` in `server`."""
    _in(server, "iperf3", "-s", "-1", "-D", "-p", str(port))
    time.sleep(0.2)
    for _ in range(tries):  # the first packets wait for ARP (and OVS's route learning)
        if answers(client, addr):
            break
    out = json.loads(_in(client, "iperf3", "-c", addr, "-p", str(port), "-t", str(seconds), "-J"))
    end = out["end"]
    return end["sum_received"]["bits_per_second"] / 1e9, int(end["sum_sent"].get("retransmits", 0))


def print_table(seconds: int, rows: list[tuple[str, int, float, int]]) -> None:
    """rows: (path, guest MTU, Gbit/s, retransmits)."""
    print(f"iperf3 TCP, 1 stream, {seconds} s, guest to guest\n")
    print("| path | guest MTU | Gbit/s | retransmits |\n|---|---|---|---|")
    print("\n".join(f"| {name} | {mtu} | {gbps:.2f} | {retr} |" for name, mtu, gbps, retr in rows))


def _in(ns: str, *argv: str) -> str:
    return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, check=True,
                          timeout=120).stdout

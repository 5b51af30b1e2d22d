"""Publishing ports: wirework's nft maps against one iptables DNAT rule per port.

For N in 10, 100, 1000, 10000 published ports, in throwaway namespaces (nothing leaves them):
  * the time to publish the Nth port (median of a few ports around N), by
    - wirework: `PublishPort.apply` (two map elements, one libnftables batch, in-process),
    - the same batch through the `nft -j -f -` program (the adapter's fallback),
    - iptables: one `iptables -t nat -A ... -j DNAT` rule per port (iptables-nft, as Docker);
  * the time to unpublish it again (wirework: `UnpublishPort.apply`, checks the target first);
  * the ruleset size per published port (`nft list ruleset` / `iptables-save -t nat` bytes);
  * the lookup cost: microseconds per new TCP connection from the namespace itself to
    127.0.0.1:<the Nth port>, DNATed to a listener on 10.88.0.2 (an address on `lo` there),
    so every connection's first packet is looked up among N published ports.
The first N-1 ports of each size are loaded in one batch; then the Nth port is published
(timed) and unpublished (not timed) `--samples` times, and the median is reported.

Run as root:  .venv/bin/python bench/bench_ports.py [--sizes 10,100,1000,10000] [--samples 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable

from wirework.firewall import render
from wirework.firewall.model import PortMapping
from wirework.firewall.ports import PublishPort, UnpublishPort
from wirework.firewall.steps import EnsureFirewallBase
from wirework.kernel.host import KernelHost
from wirework.kernel.nft import Nft

GUEST = "10.88.0.2"
SERVER = """
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.88.0.2", 80)); s.listen(512); print("ready", flush=True)
while True:
    c, _ = s.accept(); c.close()
"""
CLIENT = """
import socket, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
best = []
for _ in range(7):
    start = time.perf_counter()
    for _ in range(count):
        c = socket.create_connection(("127.0.0.1", port)); c.close()
    best.append((time.perf_counter() - start) / count * 1e6)
print(min(best))
"""


def sh(*argv: str, input_text: str | None = None) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, input=input_text).stdout


def mapping(port: int) -> PortMapping:
    return PortMapping("bench", GUEST, "tcp", port, 80, owner=f"bench:{port}")


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


class NftSeries:
    def __init__(self, ns: str, *, library: bool) -> None:
        self.ns = ns
        self.host = KernelHost(ns)
        if not library:
            self.host.__dict__["nft"] = Nft(self.host.netns_path, use_library=False)
        EnsureFirewallBase().apply(self.host)
        self.count = 0

    def bulk(self, upto: int) -> None:
        batch = [c for p in range(self.count + 1, upto + 1) for c in render.render_port(mapping(p))]
        for i in range(0, len(batch), 20000):
            self.host.nft.run(batch[i:i + 20000])
        self.count = upto

    def publish(self, port: int) -> float:
        return timed(lambda: PublishPort(mapping(port)).apply(self.host))

    def unpublish(self, port: int) -> None:
        UnpublishPort(mapping(port)).apply(self.host)

    def size(self) -> int:
        return len(sh("ip", "netns", "exec", self.ns, "nft", "list", "ruleset"))


class IptablesSeries:
    def __init__(self, ns: str) -> None:
        self.ns = ns
        self.ipt("-t", "nat", "-N", "WWPORTS")
        for chain in ("PREROUTING", "OUTPUT"):
            self.ipt("-t", "nat", "-A", chain, "-m", "addrtype", "--dst-type", "LOCAL", "-j", "WWPORTS")
        self.count = 0

    def ipt(self, *args: str) -> None:
        sh("ip", "netns", "exec", self.ns, "iptables-nft", "-w", *args)

    def rule(self, port: int) -> list[str]:
        return ["-A", "WWPORTS", "-p", "tcp", "--dport", str(port), "-m", "comment", "--comment",
                f"wirework:bench:{port}", "-j", "DNAT", "--to-destination", f"{GUEST}:80"]

    def bulk(self, upto: int) -> None:
        lines = ["*nat"] + [" ".join(self.rule(p)) for p in range(self.count + 1, upto + 1)] + ["COMMIT", ""]
        sh("ip", "netns", "exec", self.ns, "iptables-nft-restore", "--noflush", input_text="\n".join(lines))
        self.count = upto

    def publish(self, port: int) -> float:
        rule = self.rule(port)
        return timed(lambda: self.ipt("-t", "nat", *rule))

    def unpublish(self, port: int) -> None:
        self.ipt("-t", "nat", "-D", *self.rule(port)[1:])

    def size(self) -> int:
        return len(sh("ip", "netns", "exec", self.ns, "iptables-nft-save", "-t", "nat"))


def start_server(ns: str) -> subprocess.Popen[str]:
    sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh("ip", "-n", ns, "addr", "add", f"{GUEST}/32", "dev", "lo")
    server = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None and server.stdout.readline().strip() == "ready"
    return server


def connect_us(ns: str, port: int, count: int = 500) -> float:
    return round(float(sh("ip", "netns", "exec", ns, sys.executable, "-c", CLIENT, str(port), str(count))), 1)


def run_series(name: str, series: NftSeries | IptablesSeries, sizes: list[int], samples: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    base = series.size()
    server = start_server(series.ns)
    try:
        for n in sizes:
            series.bulk(n - 1)
            times, removals = [], []
            for _ in range(samples):  # the Nth port, published with N-1 others present, again and again
                times.append(series.publish(n))
                removals.append(timed(lambda n=n: series.unpublish(n)))  # type: ignore[misc]
            series.publish(n)
            series.count = n
            size = series.size()
            rows.append({"approach": name, "ports": n, "publish_ms": round(statistics.median(times), 3),
                         "publish_min_ms": round(min(times), 3), "unpublish_ms": round(statistics.median(removals), 3),
                         "bytes_per_port": round((size - base) / n, 1),
                         "connect_us": connect_us(series.ns, n)})
    finally:
        server.kill()
        server.wait()
    for row in rows:
        print(json.dumps(row), file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--samples", type=int, default=21)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    made: list[str] = []
    rows: list[dict[str, object]] = []
    try:
        for name in ("nft-maps-libnftables", "nft-maps-nft-program", "iptables-rule-per-port"):
            ns = f"wwbench{uuid.uuid4().hex[:6]}"
            sh("ip", "netns", "add", ns)
            made.append(ns)
            if name == "iptables-rule-per-port":
                series: NftSeries | IptablesSeries = IptablesSeries(ns)
            else:
                series = NftSeries(ns, library=name.endswith("libnftables"))
            rows += run_series(name, series, sizes, args.samples)
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], check=False)
    print("| approach | published ports | publish the Nth port, ms (median / min) | unpublish it, ms "
          "| ruleset bytes per port | new connection to the Nth port, µs |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['approach']} | {row['ports']} | {row['publish_ms']} / {row['publish_min_ms']} "
              f"| {row['unpublish_ms']} | {row['bytes_per_port']} | {row['connect_us']} |")


if __name__ == "__main__":
    main()

"""lab check: run the file's expected-reachability matrix (ICMP, TCP, don't-fragment pings).

Each `expect:` entry expands to (from, to) pairs; a name stands for its first address (a
guest's first attachment, a host's first segment address). `mtu: N` pings with DF set and a
payload that makes an N-byte IP packet, so an MTU that would black-hole traffic shows up.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from wirework.lab.model import Expect, Topology
from wirework.lab.resolve import LabNames, addresses_of
from wirework.model.addr import is_ip


@dataclass(frozen=True)
class Probe:
    source: str
    target: str
    address: str
    test: str  # "ping", "tcp/80", "mtu 1462"
    expected: str  # "pass" / "fail"
    line: int


@dataclass(frozen=True)
class Outcome:
    probe: Probe
    got: str

    @property
    def ok(self) -> bool:
        return self.got == self.probe.expected


Runner = Callable[[str, Probe], bool]  # (source ns path, probe) -> reachable
#: A guest's live address on its first cluster network (handed out when the lab came up).
Live = Callable[[str], list[str]]


def expand(topo: Topology, live: Live | None = None) -> list[Probe]:
    addrs = addresses_of(topo)
    out: list[Probe] = []
    for e in topo.expects:
        for src in e.sources:
            for dst in e.targets:
                if src == dst:
                    continue
                if dst not in addrs and dst in topo.guests and topo.guests[dst].connect and live is not None:
                    addrs[dst] = live(dst) or ["?"]
                address = dst if dst not in addrs and is_ip(dst) else addrs.get(dst, ["?"])[0]
                out += [Probe(src, dst, address, test, e.result, e.line) for test in _tests(e)]
    return out


def _tests(e: Expect) -> list[str]:
    tests = ["ping"] if e.ping and e.mtu is None else []
    if e.mtu is not None:
        tests.append(f"mtu {e.mtu}")
    if e.tcp is not None:
        tests.append(f"tcp/{e.tcp}")
    return tests




def run_probe(ns_path: str, probe: Probe) -> bool:
    from wirework.kernel import labenv

    if probe.test.startswith("tcp/"):
        return labenv.tcp_connect(ns_path, probe.address, int(probe.test[4:]))
    if probe.test.startswith("mtu "):
        overhead = 48 if ":" in probe.address else 28  # IP + ICMP headers
        size = int(probe.test[4:]) - overhead
        return labenv.ping(ns_path, probe.address, size=size, dont_fragment=True)
    return labenv.ping(ns_path, probe.address)


def live_addresses(topo: Topology, names: LabNames) -> Live:
    """Read a connected guest's address on its first cluster network from its namespace."""
    from wirework.kernel import labenv

    def live(guest: str) -> list[str]:
        return labenv.addresses(names.ns_path(guest), f"eth{len(topo.guests[guest].attach)}")

    return live


def run_matrix(topo: Topology, names: LabNames, runner: Runner = run_probe, workers: int = 8) -> list[Outcome]:
    probes = expand(topo, live_addresses(topo, names))

    def one(p: Probe) -> Outcome:
        # A failing ping may just be the first ARP round: one retry before calling it failed.
        # A failing probe may just have met the first ARP round: retry before calling it failed.
        tries = 3 if p.expected == "pass" else 1
        reached = any(runner(names.ns_path(p.source), p) for _ in range(tries))
        return Outcome(p, "pass" if reached else "fail")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, probes))


def table_rows(outcomes: list[Outcome]) -> list[list[str]]:
    return [[o.probe.source, o.probe.target, o.probe.address, o.probe.test, o.probe.expected, o.got,
             "ok" if o.ok else "MISMATCH"] for o in outcomes]


HEADERS = ["FROM", "TO", "ADDRESS", "TEST", "EXPECT", "GOT", ""]

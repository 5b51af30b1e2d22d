"""Concurrent `connect` of the same guests from several processes: every guest ends up
connected once, with an address nobody else has, a lease that says so, and objects that
match the records exactly (no record without its veth and address, no veth without record).
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import Namespaces, sh
from wirework.api import Wirework
from wirework.attachments import records
from wirework.errors import Conflict
from wirework.ipam import Ipam
from wirework.networks import endpoints

WORKERS, EACH = 3, 50
SHARED = EACH // 2  # half of each worker's connects are guests every worker connects

_WORKER = """
import json, os, sys, time
from wirework.api import Wirework
from wirework.errors import Conflict
from wirework.errors import WireworkError
host, state, go, *guests = sys.argv[1:]
ww = Wirework(netns=host, state_dir=state)
while not os.path.exists(go):
    time.sleep(0.005)
done = {"connected": 0, "refused": [], "crashed": []}
for g in guests:
    try:
        ww.connect("race", g)
        done["connected"] += 1
    except WireworkError as exc:
        done["refused"].append(f"{g}: {exc}")
    except Exception as exc:
        done["crashed"].append(f"{g}: {type(exc).__name__}: {exc}")
ww.close()
print(json.dumps(done))
"""


def test_three_processes_connecting_the_same_guests(netns: Namespaces, state_dir: str, tmp_path: str) -> None:
    host = netns("host")
    shared = [netns(f"s{i}") for i in range(SHARED)]
    own = [[netns(f"u{w}x{i}") for i in range(EACH - SHARED)] for w in range(WORKERS)]
    with Wirework(netns=host, state_dir=state_dir) as ww:
        ww.network_create("race", subnet="10.76.0.0/24")
    go = os.path.join(str(tmp_path), "go")
    workers = []
    for w in range(WORKERS):
        mine = [g for pair in zip(shared, own[w], strict=True) for g in pair]  # shared ones in the same order everywhere
        workers.append(subprocess.Popen([sys.executable, "-c", _WORKER, host, state_dir, go, *mine],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    time.sleep(0.5)  # every worker has its session open: start them at once
    open(go, "w").close()
    results = []
    for proc in workers:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    assert not [c for r in results for c in r["crashed"]]
    # the losers were refused, naming the other process (or the interface it had made already)
    reasons = ("by another process", "already exists in guest")
    assert all(any(r in m for r in reasons) for res in results for m in res["refused"]), results
    assert sum(r["connected"] for r in results) >= SHARED + WORKERS * (EACH - SHARED)
    check_world(host, state_dir, shared + [g for gs in own for g in gs])


def check_world(host: str, state_dir: str, guests: list[str]) -> None:
    with Wirework(netns=host, state_dir=state_dir) as ww:
        eps = endpoints.on_network(ww.store, ww.host_id, "race")
        atts = {a.id: a for a in records.all_for_host(ww.store, ww.host_id)}
        leases = {lease.ip: lease.owner for lease in Ipam(ww.store, ww.host_id).leases("race")}
        assert ww.store.scan("ops/") == []
    # every guest connected exactly once, each with its own address
    assert sorted(ep.guest.name for ep in eps) == sorted(guests)
    addresses = [ep.address for ep in eps]
    assert len(set(addresses)) == len(addresses), "one address given twice"
    # no lost lease, and no lease without its endpoint
    assert leases == {ep.address: ep.guest.key for ep in eps}
    # no record without objects, no objects without record
    assert sorted(atts) == sorted(ep.att_id for ep in eps)
    veths = {line.split(":")[1].strip().split("@")[0] for line in sh("ip", "-o", "link", ns=host).splitlines()}
    assert {a.host_ifname for a in atts.values()} == {v for v in veths if v.startswith("wwv")}
    subnet = ipaddress.ip_network("10.76.0.0/24")
    for ep in eps:
        found = [ln.split()[3] for ln in sh("ip", "-o", "-4", "addr", ns=ep.guest.name).splitlines()
                 if ipaddress.ip_interface(ln.split()[3]).ip in subnet]
        assert found == [ep.ip], f"{ep.guest.name} has {found}, its record says {ep.ip}"


def test_an_address_claim_is_not_taken_over_while_its_attach_runs(netns: Namespaces, state_dir: str) -> None:
    """pipework-style attach claims the address before it writes its journal: a claim whose
    process still runs is refused to others even without a journal or record; once that
    process is gone, the claim is taken over."""
    from wirework.kernel.proc import process_start
    from wirework.store.sqlite import SqliteStore

    host, g = netns("host"), netns("g")
    sh("ip", "link", "add", "br0", "type", "bridge", ns=host)
    claimer = subprocess.Popen(["sleep", "60"])  # an attach between its claim and its journal
    try:
        store = SqliteStore(os.path.join(state_dir, "state.db"))
        store.put("ip/" + host + "/br0/10.77.0.5", {"att": "0123456789", "op": "a1b2c3d4e5f6", "pid": claimer.pid,
                                                    "pid_start": process_start(claimer.pid)})
        store.close()
        with Wirework(netns=host, state_dir=state_dir) as ww:
            with pytest.raises(Conflict, match=f"being taken by another process right now \\(pid {claimer.pid}\\)"):
                ww.attach(g, "br0", ip="10.77.0.5/24")
            assert "10.77.0.5" not in sh("ip", "addr", ns=g)
    finally:
        claimer.kill()
        claimer.wait()
    with Wirework(netns=host, state_dir=state_dir) as ww:
        ww.attach(g, "br0", ip="10.77.0.5/24")  # its process is gone: taken over
        assert "10.77.0.5/24" in sh("ip", "addr", ns=g)

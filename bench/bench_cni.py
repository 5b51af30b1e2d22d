"""CNI ADD and DEL latency: wirework (with and without the resident service) vs the reference
`bridge` plugin (Debian's containernetworking-plugins, Go), exec'd the same way, same run.

    sudo .venv/bin/python bench/bench_cni.py [--containers 20] [--json]

Everything happens in throwaway namespaces: a "host" namespace that this process enters
before exec'ing any plugin (as a runtime runs plugins in its own namespace), and one
namespace per container. Each plugin is exec'd directly with the CNI_* environment and its
configuration on stdin; the time is from exec to exit. The rounds are interleaved (bridge,
wirework via the service, wirework in-process, for container 1, then 2, ...) so that load
from elsewhere on the machine hits all three alike. Comparable configurations: a bridge with
NAT and a default route for the container (reference: `isGateway`, `ipMasq`, host-local
IPAM; wirework: a network with its subnet, NAT and isolation rules on nftables).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

REFERENCE = "/usr/lib/cni/bridge"


def _ns(name: str) -> None:
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)


def _enter(name: str) -> None:
    from wirework.kernel.netns import setns_fd

    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        setns_fd(fd)
    finally:
        os.close(fd)


def _exec(program: str, command: str, conf: str, cid: str, netns: str, env: dict[str, str]) -> float:
    full = {**env, "CNI_COMMAND": command, "CNI_CONTAINERID": cid, "CNI_NETNS": f"/run/netns/{netns}",
            "CNI_IFNAME": "eth0"}
    start = time.perf_counter()
    done = subprocess.run([program], input=conf, capture_output=True, text=True, env=full, timeout=120, check=False)
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{program} {command} {cid} failed: {done.stdout} {done.stderr}")
    return elapsed


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median": round(statistics.median(ordered), 1), "mean": round(statistics.fmean(ordered), 1),
            "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 1), "first": round(values[0], 1),
            "max": round(ordered[-1], 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--containers", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from wirework.cni.install import install

    run = uuid.uuid4().hex[:5]
    tmp = tempfile.mkdtemp(prefix="wwbcni")
    bindir = os.path.join(tmp, "bin")
    launcher = install(bindir)
    host = f"wwb{run}h"
    modes = ("bridge", "wirework+service", "wirework")
    names = {m: [f"wwb{run}{i}{k}" for k in range(args.containers)] for i, m in enumerate(modes)}
    made = [host]
    sock = os.path.join(tmp, "svc.sock")
    service = subprocess.Popen([sys.executable, "-m", "wirework.cli.main", "service", "run", "--socket", sock,
                                "--no-docker-events"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _ns(host)
        for group in names.values():
            for name in group:
                _ns(name)
                made.append(name)
        while not os.path.exists(sock):
            time.sleep(0.05)
        base = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "CNI_PATH": f"{bindir}:/usr/lib/cni",
                "WIREWORK_NETNS": host, "WIREWORK_STATE_DIR": os.path.join(tmp, "state")}
        os.makedirs(base["WIREWORK_STATE_DIR"])
        plugins = {
            "bridge": (REFERENCE, base, json.dumps({
                "cniVersion": "1.0.0", "name": "refbench", "type": "bridge", "bridge": "cnibr0", "isGateway": True,
                "ipMasq": True, "ipam": {"type": "host-local", "subnet": "10.161.0.0/24", "dataDir": os.path.join(tmp, "hl"),
                                         "routes": [{"dst": "0.0.0.0/0"}]}})),
            "wirework+service": (launcher, {**base, "WIREWORK_SOCKET": sock}, json.dumps(
                {"cniVersion": "1.0.0", "name": "wwbench", "type": "wirework", "subnet": "10.160.0.0/24"})),
            "wirework": (launcher, {**base, "WIREWORK_NO_SERVICE": "1"}, json.dumps(
                {"cniVersion": "1.0.0", "name": "wwbench", "type": "wirework", "subnet": "10.160.0.0/24"})),
        }
        _enter(host)  # from here on, this process and every plugin it execs run in the "host" namespace
        times: dict[str, dict[str, list[float]]] = {m: {"ADD": [], "DEL": []} for m in modes}
        for command in ("ADD", "DEL"):
            for k in range(args.containers):
                for mode in modes:
                    program, env, conf = plugins[mode]
                    times[mode][command].append(_exec(program, command, conf, f"c{k}", names[mode][k], env))
        report = {m: {c: _summary(v) for c, v in t.items()} for m, t in times.items()}
        if args.json:
            print(json.dumps(report, indent=1))
        else:
            print(f"{args.containers} containers per plugin, ms from exec to exit")
            print(f"{'plugin':<18} {'ADD median':>10} {'mean':>7} {'p90':>7} {'first':>7}   {'DEL median':>10} {'mean':>7} "
                  f"{'p90':>7}")
            for mode, r in report.items():
                a, d = r["ADD"], r["DEL"]
                print(f"{mode:<18} {a['median']:>10} {a['mean']:>7} {a['p90']:>7} {a['first']:>7}   {d['median']:>10} "
                      f"{d['mean']:>7} {d['p90']:>7}")
    finally:
        service.terminate()
        service.wait(timeout=30)
        for name in made:
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
        subprocess.run(["rm", "-rf", tmp], check=False)


if __name__ == "__main__":
    main()

"""CNI ADD and DEL latency: wirework (with and without the resident service) vs the reference
`bridge` plugin (Debian's containernetworking-plugins, Go), exec'd the same way, same run.

    sudo .venv/bin/python bench/bench_cni.py [--containers 20] [--podman 5] [--json]

Everything happens in throwaway namespaces: a "host" namespace that this process enters
before exec'ing any plugin (as a runtime runs plugins in its own namespace), and one
namespace per container. Each plugin is exec'd directly with the CNI_* environment and its
configuration on stdin; the time is from exec to exit. The rounds are interleaved (bridge,
wirework via the service, wirework in-process, for container 1, then 2, ...) so that load
from elsewhere on the machine hits all three alike. Comparable configurations: a bridge with
NAT and a default route for the container (reference: `isGateway`, `ipMasq`, host-local
IPAM; wirework: a network with its subnet, NAT and isolation rules on nftables).

`--podman N` also times `podman run -d` and `podman rm -f -t 0` of N busybox containers on a
wirework network and on a reference `bridge` network (podman 4.3, CNI backend, its own
containers.conf, storage and config dir in a temp dir, run inside the throwaway host namespace).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

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


def _cpu_ms(service_pid: int) -> tuple[float, float]:
    """CPU time (user + system, ms) of every child run so far (with their own children, e.g. the
    reference plugin's host-local and iptables), and of the service process."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(f"/proc/{service_pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (kids.ru_utime + kids.ru_stime) * 1000, (int(fields[11]) + int(fields[12])) * 1000 / ticks


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


def _podman(tmp: str, host: str, launcher_dir: str, runs: int, service: str) -> dict[str, dict[str, float]]:
    """podman run/rm times per network (the plugins go through the service when `service`)."""
    root = os.path.join(tmp, "podman")
    for sub in ("net.d", "root", "runroot", "tmp", "state"):
        os.makedirs(os.path.join(root, sub))
    with open(os.path.join(root, "containers.conf"), "w") as f:
        f.write(f'[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n[network]\n'
                f'network_backend = "cni"\ncni_plugin_dirs = ["{launcher_dir}", "/usr/lib/cni"]\n'
                f'network_config_dir = "{root}/net.d"\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
                f'conmon_env_vars = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "WIREWORK_NETNS={host}", '
                f'"WIREWORK_STATE_DIR={root}/state", "WIREWORK_SOCKET={service}"]\n'
                f'events_logfile_path = "{root}/events.log"\ntmp_dir = "{root}/tmp"\n')
    nets = {"wwpod": {"type": "wirework", "subnet": "10.162.0.0/24"},
            "refpod": {"type": "bridge", "bridge": "cnipod0", "isGateway": True, "ipMasq": True,
                       "ipam": {"type": "host-local", "subnet": "10.163.0.0/24", "dataDir": f"{root}/hl",
                                "routes": [{"dst": "0.0.0.0/0"}]}}}
    for name, plugin in nets.items():
        with open(os.path.join(root, "net.d", f"{name}.conflist"), "w") as f:
            json.dump({"cniVersion": "1.0.0", "name": name, "plugins": [plugin]}, f)
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "CONTAINERS_CONF": f"{root}/containers.conf",
           "WIREWORK_NETNS": host, "WIREWORK_STATE_DIR": f"{root}/state", "WIREWORK_SOCKET": service}
    base = ["podman", "--root", f"{root}/root", "--runroot", f"{root}/runroot", "--storage-driver", "vfs"]
    save = subprocess.run(["docker", "save", "wirework-busybox:latest"], capture_output=True, check=True, timeout=120)
    subprocess.run([*base, "load"], input=save.stdout, capture_output=True, env=env, check=True, timeout=120)
    times: dict[str, dict[str, list[float]]] = {n: {"run": [], "rm": []} for n in nets}
    try:
        for k in range(runs):
            for name in nets:
                for verb, argv in (("run", ["run", "-d", "--name", f"{name}{k}", "--network", name,
                                            "wirework-busybox", "sleep", "600"]), ("rm", ["rm", "-f", "-t", "0", f"{name}{k}"])):
                    start = time.perf_counter()
                    subprocess.run([*base, *argv], capture_output=True, env=env, check=True, timeout=120)
                    times[name][verb].append((time.perf_counter() - start) * 1000)
    finally:
        subprocess.run([*base, "rm", "-a", "-f", "-t", "0"], capture_output=True, env=env, timeout=120, check=False)
        subprocess.run([*base, "rmi", "-a", "-f"], capture_output=True, env=env, timeout=120, check=False)
    return {n: {v: round(statistics.median(t), 1) for v, t in verbs.items()} for n, verbs in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--containers", type=int, default=20)
    parser.add_argument("--podman", type=int, default=0, help="also time N podman run/rm on each network")
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
        cpu: dict[str, dict[str, float]] = {m: {"ADD": 0.0, "DEL": 0.0} for m in modes}
        for command in ("ADD", "DEL"):
            for k in range(args.containers):
                for mode in modes:
                    program, env, conf = plugins[mode]
                    before = _cpu_ms(service.pid)
                    times[mode][command].append(_exec(program, command, conf, f"c{k}", names[mode][k], env))
                    after = _cpu_ms(service.pid)
                    cpu[mode][command] += (after[0] - before[0]) + (after[1] - before[1])
        report: dict[str, Any] = {m: {c: {**_summary(v), "cpu": round(cpu[m][c] / len(v), 1)} for c, v in t.items()}
                                  for m, t in times.items()}
        if args.podman:
            report["podman"] = _podman(tmp, host, bindir, args.podman, sock)
        if args.json:
            print(json.dumps(report, indent=1))
        else:
            print(f"{args.containers} containers per plugin, ms from exec to exit; cpu: ms of CPU per call "
                  f"(the plugin, its children and the service)")
            print(f"{'plugin':<18} {'ADD median':>10} {'mean':>7} {'p90':>7} {'first':>7} {'cpu':>6}   {'DEL median':>10} "
                  f"{'mean':>7} {'p90':>7} {'cpu':>6}")
            for mode in modes:
                a, d = report[mode]["ADD"], report[mode]["DEL"]
                print(f"{mode:<18} {a['median']:>10} {a['mean']:>7} {a['p90']:>7} {a['first']:>7} {a['cpu']:>6}   "
                      f"{d['median']:>10} {d['mean']:>7} {d['p90']:>7} {d['cpu']:>6}")
            for name, verbs in report.get("podman", {}).items():
                print(f"podman on {name}: run -d median {verbs['run']} ms, rm -f median {verbs['rm']} ms")
    finally:
        service.terminate()
        service.wait(timeout=30)
        for name in made:
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
        subprocess.run(["rm", "-rf", tmp], check=False)


if __name__ == "__main__":
    main()

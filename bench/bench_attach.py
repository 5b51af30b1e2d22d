"""Time one attach: wirework's API, wirework's CLI (with and without the service), and the
`ip`-command sequence pipework runs, side by side in one run.

    sudo .venv/bin/python bench/bench_attach.py [--scales 1,10,100,500] [--docker 50] [--cli 50]

Guests for the API scale run are throwaway named namespaces inside a throwaway "host"
namespace; the Docker and CLI runs use real `--net=none` busybox containers on a bridge in the
root namespace (uniquely named, removed at the end). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from wirework.api import Wirework

RUN = uuid.uuid4().hex[:5]
IMAGE = os.environ.get("WIREWORK_TEST_IMAGE", "wirework-busybox:latest")


def sh(*argv: str, check: bool = True) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=120).stdout


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f}"


def p90(values: list[float]) -> str:
    return f"{sorted(values)[int(len(values) * 0.9) - 1 if len(values) > 1 else 0] * 1000:.1f}"


def api_scale(n: int) -> tuple[list[float], list[float]]:
    """n netns guests attached to one bridge through the API; times of all, and of the last 10%."""
    host = f"wwb{RUN}h{n}"
    sh("ip", "netns", "add", host)
    guests = [f"wwb{RUN}g{n}x{i}" for i in range(n)]
    for g in guests:
        sh("ip", "netns", "add", g)
    state = tempfile.mkdtemp(prefix="wwbench")
    times: list[float] = []
    try:
        with Wirework(netns=host, state_dir=state) as ww:
            ww.attach(guests[0], "br0", ip="10.100.0.2/16")  # warm-up: bridge creation is not an attach
            for i, g in enumerate(guests[1:], start=3):
                t = time.perf_counter()
                ww.attach(g, "br0", ip=f"10.100.{i // 250}.{i % 250 + 2}/16")
                times.append(time.perf_counter() - t)
    finally:
        for g in guests:
            sh("ip", "netns", "del", g, check=False)
        sh("ip", "netns", "del", host, check=False)
        shutil.rmtree(state, ignore_errors=True)
    tail = times[-max(1, len(times) // 10):]
    return times, tail


def containers(n: int) -> list[str]:
    names = []
    for i in range(n):
        name = f"wwb{RUN}c{i}"
        sh("docker", "run", "-d", "--net=none", "--name", name, IMAGE, "sleep", "3600")
        names.append(name)
    return names


def remove(names: list[str]) -> None:
    for name in names:  # one at a time: dockerd 20.10 deadlocks on mass concurrent removal
        sh("docker", "rm", "-f", name, check=False)


def pid_of(name: str) -> str:
    return sh("docker", "inspect", "--format", "{{.State.Pid}}", name).strip()


def pipework_ip_steps(bridge: str, name: str, ip: str, i: int) -> None:
    """What pipework does for `pipework BRIDGE NAME IP`, as ip commands (incl. its docker inspect)."""
    pid = pid_of(name)
    os.makedirs("/run/netns", exist_ok=True)
    link = f"/run/netns/wwb{RUN}p{i}"
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(f"/proc/{pid}/ns/net", link)
    host_if, guest_if = f"v{i}pl{pid}"[:15], f"v{i}pg{pid}"[:15]
    sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", guest_if)
    sh("ip", "link", "set", host_if, "master", bridge)
    sh("ip", "link", "set", host_if, "up")
    sh("ip", "link", "set", guest_if, "netns", f"wwb{RUN}p{i}")
    sh("ip", "netns", "exec", f"wwb{RUN}p{i}", "ip", "link", "set", guest_if, "name", "eth2")
    sh("ip", "netns", "exec", f"wwb{RUN}p{i}", "ip", "addr", "add", ip, "dev", "eth2")
    sh("ip", "netns", "exec", f"wwb{RUN}p{i}", "ip", "link", "set", "eth2", "up")
    os.unlink(link)


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def docker_runs(n: int, cli_n: int) -> dict[str, list[float]]:
    bridge = f"brwb{RUN}"
    state = tempfile.mkdtemp(prefix="wwbench")
    sock = os.path.join(state, "svc.sock")
    env = {**os.environ, "WIREWORK_STATE_DIR": state}
    names = containers(max(n, cli_n))
    out: dict[str, list[float]] = {"api": [], "cli-service": [], "cli-local": [], "pipework-ip": []}
    wirework = [sys.executable, "-m", "wirework.cli.main"]
    exe = os.path.join(os.path.dirname(sys.executable), "wirework")
    if os.path.exists(exe):
        wirework = [exe]
    try:
        sh("ip", "link", "add", bridge, "type", "bridge")
        sh("ip", "link", "set", bridge, "up")
        with Wirework(state_dir=state) as ww:
            for i, name in enumerate(names[:n]):
                out["api"].append(timed(lambda name=name, i=i: ww.attach(name, bridge, ip=f"10.101.0.{i + 2}/16")))
        subprocess.run([*wirework, "service", "start", "--socket", sock], env=env, check=True, capture_output=True)
        svc_env = {**env, "WIREWORK_SOCKET": sock}
        for i, name in enumerate(names[:cli_n]):
            argv = [*wirework, "pipework", bridge, "-i", "eth3", name, f"10.101.1.{i + 2}/16"]
            out["cli-service"].append(timed(lambda argv=argv: subprocess.run(argv, env=svc_env, check=True,
                                                                             capture_output=True)))
        subprocess.run([*wirework, "service", "stop", "--socket", sock], env=env, check=True, capture_output=True)
        local_env = {**env, "WIREWORK_NO_SERVICE": "1"}
        for i, name in enumerate(names[:min(cli_n, 20)]):
            argv = [*wirework, "pipework", bridge, "-i", "eth4", name, f"10.101.2.{i + 2}/16"]
            out["cli-local"].append(timed(lambda argv=argv: subprocess.run(argv, env=local_env, check=True,
                                                                           capture_output=True)))
        for i, name in enumerate(names[:cli_n]):
            out["pipework-ip"].append(timed(lambda name=name, i=i: pipework_ip_steps(bridge, name,
                                                                                     f"10.101.3.{i + 2}/16", i)))
    finally:
        remove(names)
        subprocess.run([*wirework, "gc"], env={**env, "WIREWORK_NO_SERVICE": "1"}, capture_output=True, check=False)
        sh("ip", "link", "del", bridge, check=False)
        shutil.rmtree(state, ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", default="1,10,100,500")
    parser.add_argument("--docker", type=int, default=50)
    parser.add_argument("--cli", type=int, default=50)
    args = parser.parse_args()
    print("| what | guests | median ms | p90 ms | median of last 10% ms |")
    print("|---|---|---|---|---|")
    for n in [int(x) for x in args.scales.split(",")]:
        times, tail = api_scale(n + 1)
        print(f"| API attach, netns guests | {n} | {ms(times)} | {p90(times)} | {ms(tail)} |")
    if args.docker or args.cli:
        runs = docker_runs(args.docker, args.cli)
        labels = {"api": "API attach, Docker containers", "cli-service": "`wirework pipework` with the service",
                  "cli-local": "`wirework pipework` without the service",
                  "pipework-ip": "pipework's steps as `ip` commands"}
        for key, values in runs.items():
            if values:
                print(f"| {labels[key]} | {len(values)} | {ms(values)} | {p90(values)} | - |")
        ratio = statistics.median(runs["pipework-ip"]) / statistics.median(runs["cli-service"])
        print(f"\npipework-equivalent `ip` steps / `wirework pipework` (service): {ratio:.1f}x")
        ratio_api = statistics.median(runs["pipework-ip"]) / statistics.median(runs["api"])
        print(f"pipework-equivalent `ip` steps / API attach: {ratio_api:.1f}x")


if __name__ == "__main__":
    main()

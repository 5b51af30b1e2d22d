"""One attach from a shell, same run: pipework, `docker network connect`, `wirework pipework`
cold (no service answers: the first command after boot) and warm (the service is up).

    sudo .venv/bin/python bench/bench_cli.py --pipework /tmp/pipework [--containers 20]

`--pipework` is the path of jpetazzo's pipework script (not part of this repository). Each row
attaches fresh busybox containers, one attach timed per container (wall time of the command,
started from this process), and reports the median. The tools take turns container by
container, so load on the machine hits all rows alike:
- pipework: `pipework brpwX -i eth1 C 10.241.0.N/16` on a `--net=none` container;
- docker network connect: to a user-defined bridge network, on a container started on the
  default bridge (Docker refuses to connect a `--net=none` container);
- wirework cold: `wirework pipework brwwX -i eth1 C 10.242.0.N/16` on a `--net=none` container
  with no service answering on its socket, as after boot: the command starts the service in the
  background and does its work in-process; that service is stopped (untimed) before the next
  sample, so every sample is a first command;
- wirework cold, opted out: the same with WIREWORK_NO_SERVICE=1 (nothing started);
- wirework warm: the same through the service started by the first cold sample's kind.
Bridges, networks, containers, the service and its socket directory are this run's and are
removed at the end.
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

RUN = uuid.uuid4().hex[:5]
IMAGE = os.environ.get("WIREWORK_TEST_IMAGE", "wirework-busybox:latest")
# The installed command, as a user runs it (its script imports nothing but the CLI's entry).
WIREWORK = [os.path.join(os.path.dirname(sys.executable), "wirework")]


def sh(*argv: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=300, env=env)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=300, env=env)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return elapsed


class Bench:
    def __init__(self, pipework: str) -> None:
        self.pipework = pipework
        self.containers: list[str] = []
        self.rundir = tempfile.mkdtemp(prefix=f"wwbench{RUN}", dir="/tmp")
        self.sock = os.path.join(self.rundir, "s.sock")
        self.state = os.path.join(self.rundir, "state")
        self.net = f"wwb{RUN}"
        self.base_env = {"PATH": os.environ["PATH"], "WIREWORK_STATE_DIR": self.state}
        sh("docker", "network", "create", "--subnet", "10.243.0.0/16", self.net)

    def container(self, kind: str, *opts: str) -> str:
        name = f"wwb{RUN}{kind}{len(self.containers)}"
        sh("docker", "run", "-d", "--name", name, *opts, IMAGE, "sleep", "3600")
        self.containers.append(name)
        return name

    def pipework_once(self, n: int) -> float:
        c = self.container("p", "--net=none")
        return timed([self.pipework, f"brpw{RUN}", "-i", "eth1", c, f"10.241.{n // 250}.{n % 250 + 2}/16"])

    def docker_once(self, n: int) -> float:
        c = self.container("d")
        return timed(["docker", "network", "connect", self.net, c])

    def wirework_argv(self, n: int, c: str, subnet: int) -> list[str]:
        return [*WIREWORK, "pipework", f"brww{RUN}", "-i", "eth1", c, f"10.{subnet}.{n // 250}.{n % 250 + 2}/16"]

    def cold_once(self, n: int) -> float:
        self.stop_service()
        c = self.container("c", "--net=none")
        env = {**self.base_env, "WIREWORK_SOCKET": self.sock}
        elapsed = timed(self.wirework_argv(n, c, 242), env)
        self.wait_service()  # the command started it; let it finish starting before stopping it
        return elapsed

    def opted_out_once(self, n: int) -> float:
        c = self.container("o", "--net=none")
        return timed(self.wirework_argv(n, c, 244), {**self.base_env, "WIREWORK_NO_SERVICE": "1"})

    def warm_once(self, n: int) -> float:
        if not os.path.exists(self.sock):
            self.start_service()
        c = self.container("w", "--net=none")
        return timed(self.wirework_argv(n, c, 245), {**self.base_env, "WIREWORK_SOCKET": self.sock})

    def start_service(self) -> None:
        sh(*WIREWORK, "service", "start", "--socket", self.sock, "--idle-exit", "600", env=self.base_env)
        c = self.container("x", "--net=none")  # warm-up: the first request opens the sessions
        sh(*self.wirework_argv(0, c, 246), env={**self.base_env, "WIREWORK_SOCKET": self.sock})

    def wait_service(self) -> None:
        deadline = time.monotonic() + 60
        while not (os.path.exists(self.sock) and os.path.exists(self.sock + ".pid")):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the started service did not come up; see {self.sock}.log")
            time.sleep(0.05)

    def stop_service(self) -> None:
        sh(*WIREWORK, "service", "stop", "--socket", self.sock, env=self.base_env, check=False)

    def cleanup(self) -> None:
        self.stop_service()
        for c in self.containers:
            sh("docker", "rm", "-f", c, check=False)
        sh("docker", "network", "rm", self.net, check=False)
        for bridge in (f"brpw{RUN}", f"brww{RUN}"):
            sh("ip", "link", "del", bridge, check=False)
        shutil.rmtree(self.rundir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipework", required=True, help="path of jpetazzo's pipework script")
    parser.add_argument("--containers", type=int, default=20)
    args = parser.parse_args()
    bench = Bench(os.path.abspath(args.pipework))
    rows: dict[str, Callable[[int], float]] = {
        "pipework (the script, --net=none containers)": bench.pipework_once,
        "docker network connect (user-defined bridge network)": bench.docker_once,
        "wirework pipework, cold: first command, no service answering": bench.cold_once,
        "wirework pipework, cold, WIREWORK_NO_SERVICE=1": bench.opted_out_once,
        "wirework pipework, warm: through the service": bench.warm_once,
    }
    times: dict[str, list[float]] = {row: [] for row in rows}
    try:
        for n in range(args.containers):
            for row, once in rows.items():
                times[row].append(once(n + 1))
    finally:
        bench.cleanup()
    median = {row: statistics.median(values) * 1000 for row, values in times.items()}
    print("| what | containers | median ms | min ms | max ms |\n|---|---|---|---|---|")
    for row, values in times.items():
        print(f"| {row} | {len(values)} | {median[row]:.1f} | {min(values) * 1000:.1f} | {max(values) * 1000:.1f} |")
    pw, dk = median[next(iter(rows))], median["docker network connect (user-defined bridge network)"]
    cold, warm = median["wirework pipework, cold: first command, no service answering"], \
        median["wirework pipework, warm: through the service"]
    print(f"\ncold / pipework = {cold / pw:.2f} (target <= 1); warm / docker network connect = {warm / dk:.2f}"
          f" (target <= 0.5); load average at the end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

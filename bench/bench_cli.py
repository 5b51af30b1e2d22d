"""One attach from a shell, same run: pipework, `docker network connect`, and `wirework pipework`
truly cold (no service at all), cold with the auto-start, as the first command a just-started
service serves (the first command after boot), and warm.

    sudo .venv/bin/python bench/bench_cli.py --pipework /tmp/pipework [--containers 20]

`--pipework` is the path of jpetazzo's pipework script (not part of this repository). Each row
attaches fresh busybox containers, one attach timed per container (wall time of the command,
started from this process), and reports the median. The rows take turns container by
container, so load on the machine hits all rows alike; each timed command comes right after
its container was started (`docker run`), in every row. What each row runs:
- pipework: `pipework brpwX -i eth1 C 10.241.0.N/16` on a `--net=none` container;
- docker network connect: to a user-defined bridge network, on a container started on another
  user-defined network (Docker refuses to connect a `--net=none` container);
- wirework, no service (WIREWORK_NO_SERVICE=1): `wirework pipework brwwX -i eth1 C
  10.24x.0.N/16` (the installed launcher) on a `--net=none` container, in-process;
- wirework, cold with auto-start: no service answers on its socket, so the command runs
  in-process and then starts one; that service is stopped (untimed) before the next sample;
- wirework, first command after boot: the service was started just before (untimed, as at boot
  by systemd or scripts/services.sh) and serves its very first request; stopped afterwards;
- wirework, warm: through a service that has served before.
Bridges, networks, containers, the services and their socket directory are this run's and are
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
# The installed command, as a user runs it (scripts/setup.sh writes the fast launcher there).
WIREWORK = [os.path.join(os.path.dirname(sys.executable), "wirework")]
ROWS = {
    "pipework": "pipework (the script, --net=none containers)",
    "docker": "docker network connect (user-defined bridge network)",
    "none": "wirework pipework, no service (WIREWORK_NO_SERVICE=1)",
    "auto": "wirework pipework, cold: no service answering (runs here, then starts one)",
    "boot": "wirework pipework, first command of a just-started service (after boot)",
    "warm": "wirework pipework, warm: through the service",
}


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
        os.chmod(self.rundir, 0o755)
        self.socks = {row: os.path.join(self.rundir, f"{row}.sock") for row in ("auto", "boot", "warm")}
        self.state = os.path.join(self.rundir, "state")
        self.net = f"wwb{RUN}"
        self.base_env = {"PATH": os.environ["PATH"], "WIREWORK_STATE_DIR": self.state}
        sh("docker", "network", "create", "--subnet", "10.243.0.0/16", self.net)
        # Containers of the docker row start on a network of their own (Docker refuses to connect a
        # --net=none container, and docker0 may be gone on a shared machine).
        sh("docker", "network", "create", "--subnet", "10.247.0.0/16", self.net + "s")

    def env(self, row: str) -> dict[str, str]:
        return {**self.base_env, "WIREWORK_SOCKET": self.socks[row]}

    def container(self, kind: str, *opts: str) -> str:
        name = f"wwb{RUN}{kind}{len(self.containers)}"
        sh("docker", "run", "-d", "--name", name, *opts, IMAGE, "sleep", "3600")
        self.containers.append(name)
        return name

    def pipework_once(self, n: int) -> float:
        c = self.container("p", "--net=none")
        return timed([self.pipework, f"brpw{RUN}", "-i", "eth1", c, f"10.241.{n // 250}.{n % 250 + 2}/16"])

    def docker_once(self, n: int) -> float:
        c = self.container("d", "--network", self.net + "s")
        return timed(["docker", "network", "connect", self.net, c])

    def wirework_argv(self, n: int, c: str, subnet: int) -> list[str]:
        return [*WIREWORK, "pipework", f"brww{RUN}", "-i", "eth1", c, f"10.{subnet}.{n // 250}.{n % 250 + 2}/16"]

    def none_once(self, n: int) -> float:
        c = self.container("o", "--net=none")
        return timed(self.wirework_argv(n, c, 244), {**self.base_env, "WIREWORK_NO_SERVICE": "1"})

    def auto_once(self, n: int) -> float:
        self.stop_service("auto")
        c = self.container("c", "--net=none")
        elapsed = timed(self.wirework_argv(n, c, 242), self.env("auto"))
        self.wait_service("auto")  # the command started it; let it come up before stopping it
        return elapsed

    def boot_once(self, n: int) -> float:
        self.stop_service("boot")
        sh(*WIREWORK, "service", "start", "--socket", self.socks["boot"], "--idle-exit", "0", env=self.env("boot"))
        c = self.container("b", "--net=none")
        return timed(self.wirework_argv(n, c, 248), self.env("boot"))

    def warm_once(self, n: int) -> float:
        if not os.path.exists(self.socks["warm"]):
            sh(*WIREWORK, "service", "start", "--socket", self.socks["warm"], "--idle-exit", "600", env=self.env("warm"))
            c = self.container("x", "--net=none")  # warm-up: the first request opens the sessions
            sh(*self.wirework_argv(0, c, 246), env=self.env("warm"))
        c = self.container("w", "--net=none")
        return timed(self.wirework_argv(n, c, 245), self.env("warm"))

    def wait_service(self, row: str) -> None:
        sock = self.socks[row]
        deadline = time.monotonic() + 60
        while not (os.path.exists(sock) and os.path.exists(sock + ".pid")):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the started service did not come up; see {sock}.log")
            time.sleep(0.05)

    def stop_service(self, row: str) -> None:
        sh(*WIREWORK, "service", "stop", "--socket", self.socks[row], env=self.base_env, check=False)

    def cleanup(self) -> None:
        for row in self.socks:
            self.stop_service(row)
        for c in self.containers:
            sh("docker", "rm", "-f", c, check=False)
        sh("docker", "network", "rm", self.net, self.net + "s", check=False)
        for bridge in (f"brpw{RUN}", f"brww{RUN}"):
            sh("ip", "link", "del", bridge, check=False)
        shutil.rmtree(self.rundir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipework", required=True, help="path of jpetazzo's pipework script")
    parser.add_argument("--containers", type=int, default=20)
    args = parser.parse_args()
    bench = Bench(os.path.abspath(args.pipework))
    once: dict[str, Callable[[int], float]] = {
        "pipework": bench.pipework_once, "docker": bench.docker_once, "none": bench.none_once,
        "auto": bench.auto_once, "boot": bench.boot_once, "warm": bench.warm_once,
    }
    times: dict[str, list[float]] = {row: [] for row in ROWS}
    loads = [os.getloadavg()[0]]
    try:
        for n in range(args.containers):
            for row in ROWS:
                times[row].append(once[row](n + 1))
            loads.append(os.getloadavg()[0])
    finally:
        bench.cleanup()
    median = {row: statistics.median(values) * 1000 for row, values in times.items()}
    print("| what | containers | median ms | min ms | max ms |\n|---|---|---|---|---|")
    for row, values in times.items():
        print(f"| {ROWS[row]} | {len(values)} | {median[row]:.1f} | {min(values) * 1000:.1f} | {max(values) * 1000:.1f} |")
    pw, dk = median["pipework"], median["docker"]
    print(f"\nfirst command after boot / pipework = {median['boot'] / pw:.2f} (target <= 1); "
          f"no service / pipework = {median['none'] / pw:.2f}; cold with auto-start / pipework = {median['auto'] / pw:.2f}; "
          f"warm / docker network connect = {median['warm'] / dk:.2f} (target <= 0.5); "
          f"1-min load average during the run: {min(loads):.1f}-{max(loads):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

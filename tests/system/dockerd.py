"""A private dockerd for the Docker plugin and restart tests (the machine's own is never touched).

Its own data root, exec root, pid file, API socket and containerd namespace under a short
directory in /tmp; no default bridge and no iptables of its own, so it cannot disturb the
machine's dockerd or other engineers' containers. It starts its own containerd (none listens on
the system path here). `--live-restore` keeps containers running across a restart of this
daemon, which is what the "restart dockerd with live containers" test needs. The busybox image
is copied in from the machine's daemon. Every call has a timeout; containers are removed one at
a time (dockerd 20.10 deadlocks under concurrent removal); the daemon is stopped by its pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable

IMAGE = os.environ.get("WIREWORK_TEST_IMAGE", "wirework-busybox:latest")
#: The Debian client speaks the daemon's API version natively (a newer client refuses some
#: options, e.g. --mac-address, against API 1.41).
CLIENT = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"


def wait_until(what: str, check: Callable[[], object], timeout: float = 30.0, every: float = 0.05) -> object:
    """Poll `check` until it returns something true; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


class PrivateDockerd:
    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.dir = f"/tmp/wwd{tag}"
        self.socket = f"{self.dir}/docker.sock"
        self.host = f"unix://{self.socket}"
        self.pidfile = f"{self.dir}/docker.pid"
        self.proc: subprocess.Popen[bytes] | None = None
        self.containers: list[str] = []
        self.networks: list[str] = []

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        os.makedirs(self.dir, exist_ok=True)
        argv = ["dockerd", "--data-root", f"{self.dir}/data", "--exec-root", f"{self.dir}/x",
                "--pidfile", self.pidfile, "-H", self.host, "--bridge=none", "--iptables=false",
                "--ip-masq=false", "--live-restore", "--containerd-namespace", f"wwd{self.tag}",
                "--containerd-plugins-namespace", f"wwd{self.tag}p"]
        with open(f"{self.dir}/dockerd.log", "ab") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)
        wait_until("the private dockerd to answer", self.answers, timeout=60, every=0.1)

    def answers(self) -> bool:
        done = subprocess.run([CLIENT, "-H", self.host, "version", "--format", "{{.Server.Version}}"],
                              capture_output=True, timeout=10, check=False)
        return done.returncode == 0

    def load_image(self) -> None:
        save = subprocess.Popen(["docker", "save", IMAGE], stdout=subprocess.PIPE)
        load = subprocess.run([CLIENT, "-H", self.host, "load"], stdin=save.stdout, capture_output=True,
                              timeout=120, check=False)
        save.wait(timeout=120)
        assert load.returncode == 0, load.stderr

    def restart(self) -> None:
        """Stop this daemon (containers keep running: --live-restore) and start it again."""
        self._stop_daemon()
        self.start()

    def stop(self) -> None:
        for name in reversed(self.containers):
            self.cli("rm", "-f", name, check=False)
        for name in reversed(self.networks):
            self.cli("network", "rm", name, check=False)
        self._stop_daemon()
        self._unmount_and_remove()

    def _stop_daemon(self) -> None:
        pid = self.pid()
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if self.proc is not None and self.proc.pid == pid:
                self.proc.wait(timeout=60)  # our child: reap it (a zombie keeps /proc/PID)
            else:
                wait_until("the private dockerd to exit", lambda: not os.path.exists(f"/proc/{pid}"), timeout=60)
        self.proc = None

    def pid(self) -> int | None:
        try:
            with open(self.pidfile, encoding="ascii") as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        return pid if os.path.exists(f"/proc/{pid}") else None

    def _unmount_and_remove(self) -> None:
        with open("/proc/self/mounts", encoding="utf-8") as f:
            points = [line.split()[1] for line in f if line.split()[1].startswith(self.dir + "/")]
        for point in sorted(points, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- the docker command against this daemon ----------------------------------------------
    def cli(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([CLIENT, "-H", self.host, *args], capture_output=True, text=True,
                              timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: {done.stderr.strip()}")
        return done

    def run(self, name: str, *opts: str, command: tuple[str, ...] = ("sleep", "3600")) -> str:
        self.containers.append(name)
        self.cli("run", "-d", "--name", name, *opts, IMAGE, *command)
        return name

    def rm(self, name: str) -> None:
        self.cli("rm", "-f", name)
        if name in self.containers:
            self.containers.remove(name)

    def remove_all(self) -> None:
        """Remove the containers, then the networks, this run made (by the names it gave them)."""
        for name in list(self.containers):
            self.rm(name)
        for name in list(self.networks):
            self.cli("network", "rm", name, check=False)
            self.networks.remove(name)

    def network_create(self, name: str, *opts: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        self.networks.append(name)
        return self.cli("network", "create", *opts, name, check=check)

    def exec(self, name: str, *argv: str) -> subprocess.CompletedProcess[str]:
        return self.cli("exec", name, *argv, check=False, timeout=30)

    def inspect(self, what: str) -> dict[str, object]:
        data: list[dict[str, object]] = json.loads(self.cli("inspect", what).stdout)
        return data[0]

    def addresses(self, name: str) -> str:
        return self.exec(name, "ip", "-o", "-4", "addr").stdout

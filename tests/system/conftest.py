"""Fixtures of the Docker system tests: one private dockerd per run, a wirework service per test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import pytest

from tests.conftest import RUN_ID
from tests.system.dockerd import PrivateDockerd


@pytest.fixture(scope="session")
def dockerd() -> Iterator[PrivateDockerd]:
    """A private dockerd for this test run (started once, stopped by its pid at the end)."""
    daemon = PrivateDockerd(RUN_ID)
    daemon.start()
    try:
        daemon.load_image()
        yield daemon
    finally:
        daemon.stop()


class Service:
    """A wirework service of one test: its own socket, state dir, Docker daemon and plugin name."""

    count = 0

    def __init__(self, state_dir: str, docker_host: str, plugin: bool) -> None:
        Service.count += 1
        self.rundir = tempfile.mkdtemp(prefix="wwsvc", dir="/tmp")
        self.socket = os.path.join(self.rundir, "s.sock")
        self.plugin = f"wirework-{RUN_ID}{Service.count}" if plugin else ""
        self.env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                    "WIREWORK_STATE_DIR": state_dir, "WIREWORK_SOCKET": self.socket, "DOCKER_HOST": docker_host,
                    "WIREWORK_DOCKER_PLUGIN": self.plugin or "off"}

    def cli(self, *argv: str, check: bool = True, local: bool = False) -> subprocess.CompletedProcess[str]:
        """The real `wirework` command, answered by this service (or in-process with local=True)."""
        env = {**self.env, **({"WIREWORK_NO_SERVICE": "1"} if local else {})}
        done = subprocess.run([sys.executable, "-m", "wirework.cli.main", *argv], capture_output=True, text=True,
                              env=env, timeout=120, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"wirework {' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
        return done

    def start(self) -> None:
        self.cli("service", "start", "--socket", self.socket)

    def stop(self) -> None:
        self.cli("service", "stop", "--socket", self.socket, check=False)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.rundir, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL, as a crash would: no clean-up of its own."""
        with open(self.socket + ".pid", encoding="ascii") as f:
            pid = int(f.read().strip())
        os.kill(pid, 9)
        from tests.system.dockerd import wait_until

        wait_until("the killed service to vanish", lambda: not os.path.exists(f"/proc/{pid}"))

    def log(self) -> str:
        try:
            with open(self.socket + ".log", encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

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

    def __init__(self, state_dir: str, docker_host: str, plugin: bool, **extra_env: str) -> None:
        Service.count += 1
        self.rundir = tempfile.mkdtemp(prefix="wwsvc", dir="/tmp")
        self.socket = os.path.join(self.rundir, "s.sock")
        self.plugin = f"wirework-{RUN_ID}{Service.count}" if plugin else ""
        self.env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                    "WIREWORK_STATE_DIR": state_dir, "WIREWORK_SOCKET": self.socket, "DOCKER_HOST": docker_host,
                    "WIREWORK_DOCKER_PLUGIN": self.plugin or "off", **extra_env}
        self.state_dir = state_dir

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


def plugin_call(plugin: str, method: str, body: dict[str, object] | None = None) -> tuple[int, dict[str, object]]:
    """One call to a Docker plugin's socket, as dockerd makes it (POST, JSON)."""
    import http.client
    import json
    import socket

    class Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(30)
            self.sock.connect(f"/run/docker/plugins/{plugin}.sock")

    conn = Conn("localhost", timeout=30)
    try:
        conn.request("POST", f"/{method}", body=json.dumps(body or {}),
                     headers={"Content-Type": "application/vnd.docker.plugins.v1.2+json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


def store_dump(state_dir: str, prefixes: tuple[str, ...] = ("",)) -> dict[str, object]:
    """The records of a state dir (journals aside), for "nothing changed" and "nothing leaked"."""
    from wirework.store.sqlite import SqliteStore

    store = SqliteStore(os.path.join(state_dir, "state.db"))
    try:
        return {e.key: e.value for p in prefixes for e in store.scan(p) if not e.key.startswith("ops/")}
    finally:
        store.close()

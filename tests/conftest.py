"""Shared fixtures: throwaway network namespaces as "hosts" and "guests", a state dir each.

Every namespace a test makes has a unique name with the run's prefix and is removed by name
at teardown; tests never touch the machine's own network, and never clean up by pattern.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

RUN_ID = uuid.uuid4().hex[:6]


def sh(*argv: str, check: bool = True, ns: str | None = None, timeout: float = 60) -> str:
    """Run a command (tests may use ip/nft/ovs-vsctl freely to set up and to observe)."""
    full = ["ip", "netns", "exec", ns, *argv] if ns else list(argv)
    done = subprocess.run(full, capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(full)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def ping(ns: str, addr: str, *, count: int = 1, size: int | None = None, dont_fragment: bool = False) -> bool:
    argv = ["busybox", "ping", "-c", str(count), "-W", "2"]
    if size is not None:
        argv += ["-s", str(size)]
    if dont_fragment:
        argv = ["ping", "-M", "do", "-c", str(count), "-W", "2"] + (["-s", str(size)] if size else [])
    argv.append(addr)
    return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, timeout=30).returncode == 0


class Namespaces:
    def __init__(self) -> None:
        self.made: list[str] = []

    def __call__(self, label: str) -> str:
        name = f"wwt{RUN_ID}{len(self.made)}{label}"[:30]
        subprocess.run(["ip", "netns", "add", name], check=True)
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        self.made.append(name)
        return name

    def cleanup(self) -> None:
        for name in reversed(self.made):
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


@pytest.fixture
def netns() -> Iterator[Namespaces]:
    """Factory: netns("h1") makes a fresh namespace and returns its name."""
    spaces = Namespaces()
    yield spaces
    spaces.cleanup()


@pytest.fixture
def state_dir(tmp_path: Path) -> str:
    path = tmp_path / "state"
    path.mkdir()
    return str(path)


@pytest.fixture
def ww(netns: Namespaces, state_dir: str):  # type: ignore[no-untyped-def]
    """A Wirework session whose "host" is a throwaway namespace."""
    from wirework.api import Wirework

    host = netns("host")
    session = Wirework(netns=host, state_dir=state_dir)
    yield session
    session.close()


def snapshot(ns: str | None) -> str:
    """Links, addresses and routes of a namespace, for "unchanged" assertions."""
    parts = []
    for argv in (["ip", "-o", "link"], ["ip", "-o", "addr"], ["ip", "route", "show", "table", "all"]):
        out = sh(*argv, ns=ns)
        # Carrier and operstate settle asynchronously; links are compared by name, flags and master.
        lines = [re.sub(r"state \S+ |,?LOWER_UP|,?NO-CARRIER|,?M-DOWN", "", line.split(" link/")[0])
                 for line in out.splitlines()]
        parts.append("\n".join(sorted(lines)))
    return "\n---\n".join(parts)




def wirework_cli(*argv: str, env: dict[str, str] | None = None, check: bool = True,
                 timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real `wirework` command (in-process fallback unless env names a service socket)."""
    import sys

    full_env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "WIREWORK_NO_SERVICE": "1"}
    full_env.update(env or {})
    done = subprocess.run([sys.executable, "-m", "wirework.cli.main", *argv], capture_output=True, text=True,
                          env=full_env, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"wirework {' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return done


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    """A skipped test is a failure, everywhere (CI or not): scripts/setup.sh installs everything
    the tests use, so a skip only ever hides a test that proves nothing."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped (not allowed; install what it needs with scripts/setup.sh): {report.longrepr}"


@pytest.fixture
def ovs_host(netns: Namespaces):  # type: ignore[no-untyped-def]
    """A throwaway "host" namespace with its own private OVS instance: (netns_name, OvsInstance).

    The run directory is short (unix socket paths are limited) and removed with the instance.
    """
    import shutil
    import tempfile

    from wirework.kernel.ovs_instance import start_instance

    name = netns("ovs")
    rundir = tempfile.mkdtemp(prefix="wwovs", dir="/tmp")
    instance = start_instance(name, rundir)
    yield name, instance
    instance.stop()
    shutil.rmtree(rundir, ignore_errors=True)


_TCP_SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(1); s.settimeout(20)
c, _ = s.accept(); c.settimeout(20); n = 0
while True:
    b = c.recv(65536)
    if not b: break
    n += len(b)
print(n)
"""
_TCP_CLIENT = """
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
c.sendall(b"x" * int(sys.argv[3])); c.shutdown(socket.SHUT_WR); c.recv(1)
"""


def tcp_transfer(server_ns: str, client_ns: str, addr: str, size: int = 2_000_000, port: int = 5001) -> bool:
    """Send `size` bytes over TCP from client_ns to addr:port in server_ns; True when all arrived."""
    import sys
    import time

    server = subprocess.Popen(["ip", "netns", "exec", server_ns, sys.executable, "-c", _TCP_SERVER, str(port)],
                              stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.3)
        subprocess.run(["ip", "netns", "exec", client_ns, sys.executable, "-c", _TCP_CLIENT, addr, str(port), str(size)],
                       capture_output=True, timeout=30, check=False)
        out, _ = server.communicate(timeout=30)
        return out.strip() == str(size)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


# -- etcd: Debian's etcd-server on loopback, free ports, data on tmpfs -------------------------
_ETCD_CLUSTERS = iter(range(1_000_000))


def start_etcd(members: int = 1, **options):  # type: ignore[no-untyped-def]
    """A fresh etcd cluster owned by this test run (stopped by the next run if this one crashes)."""
    from wirework.store.etcd_members import start_cluster

    return start_cluster(f"t{RUN_ID}-{os.getpid()}-{next(_ETCD_CLUSTERS)}", members=members,
                         owner_pid=os.getpid(), **options)


@pytest.fixture(scope="session")
def etcd_server():  # type: ignore[no-untyped-def]
    """One etcd member shared by every test that needs one (each test uses its own key prefix)."""
    from wirework.store.etcd_members import stop_orphans

    stop_orphans()  # members left running by a crashed earlier run (their owner process is gone)
    cluster = start_etcd(1)
    yield cluster
    cluster.stop()


@pytest.fixture
def etcd_store(etcd_server):  # type: ignore[no-untyped-def]
    """An EtcdStore on the shared member under a prefix of its own."""
    from wirework.store import open_store, store_config

    store = open_store(store_config(etcd_server.url, prefix=f"/wwtest/{uuid.uuid4().hex[:10]}/", env={}))
    yield store
    store.close()


@pytest.fixture
def etcd_cluster3():  # type: ignore[no-untyped-def]
    """A 3-member etcd cluster of its own, for fault tests (members get killed and restarted)."""
    cluster = start_etcd(3)
    yield cluster
    cluster.stop()

"""Test topology for cluster networks: "hosts" as namespaces on one underlay bridge (in its own
switch namespace), each with its own wirework state, and helpers to drive their agents."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import Namespaces, sh
from wirework.cluster.agent import Agent, AgentConfig
from wirework.testing import ManualClock, MemoryClusterStore


def memory_store() -> tuple[MemoryClusterStore, ManualClock]:
    """A shared in-memory store whose leases expire when the test moves the clock."""
    clock = ManualClock()
    return MemoryClusterStore(clock), clock


def own_client(url: str, prefix: str, **options: Any) -> Any:
    """A host's own connection to the shared etcd (as separate machines have)."""
    from wirework.store import open_store, store_config

    return open_store(store_config(url, prefix=prefix, env={}, **options))

UNDERLAY = "10.97.0"
#: Segments of the underlay: bridges in the switch namespace, which also routes between them.
SEGMENTS = {"a": "10.97.0", "b": "10.96.0"}


@dataclass
class Hosts:
    netns: Namespaces
    state_dir: str
    store: Any = None  # the shared store the sessions' cluster API uses
    switch: str = ""
    names: dict[str, str] = field(default_factory=dict)  # label -> namespace
    ips: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, Any] = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)
    logs: dict[str, list[str]] = field(default_factory=dict)
    on_add: Callable[[str], object] | None = None  # called with each new host namespace

    def add(self, label: str, *, ip: str | None = None, segment: str = "a") -> str:
        from wirework.api import Wirework

        if not self.switch:
            self.switch = self.netns("sw")
            sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=self.switch)
        bridge = f"br{segment}"
        if bridge not in sh("ip", "-o", "link", "show", ns=self.switch):
            sh("ip", "link", "add", bridge, "type", "bridge", ns=self.switch)
            sh("ip", "addr", "add", f"{SEGMENTS[segment]}.254/24", "dev", bridge, ns=self.switch)
            sh("ip", "link", "set", bridge, "up", ns=self.switch)
        ns = self.netns(label)
        ip = ip or f"{SEGMENTS[segment]}.{len(self.names) + 1}"
        port = f"p{len(self.names)}{label}"[:15]
        sh("ip", "link", "add", port, "netns", self.switch, "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "link", "set", port, "master", bridge, "up", ns=self.switch)
        sh("ip", "addr", "add", f"{ip}/24", "dev", "eth0", ns=ns)
        sh("ip", "link", "set", "eth0", "up", ns=ns)
        sh("ip", "route", "add", "default", "via", f"{SEGMENTS[segment]}.254", ns=ns)
        if self.on_add is not None:
            self.on_add(ns)
        self.names[label], self.ips[label] = ns, ip
        self.sessions[label] = Wirework(netns=ns, state_dir=f"{self.state_dir}/{label}", cluster_store=self.store)
        return ns

    def agent(self, label: str, store: Any = None, *, ttl: float = 10.0, **kw: Any) -> Agent:
        log = self.logs.setdefault(label, [])
        config = AgentConfig(self.names[label], self.ips[label], ttl, **kw)
        agent = Agent(self.sessions[label].context, store or self.store, config, log=log.append)
        self.agents[label] = agent
        return agent

    def settle(self, labels: list[str] | None = None, rounds: int = 3) -> None:
        """Step the agents until each has seen everything (a few quiet rounds)."""
        for _ in range(rounds):
            for label in labels or list(self.agents):
                self.agents[label].step(0.05)

    def close(self) -> None:
        for agent in self.agents.values():
            agent.stop()
        for session in self.sessions.values():
            session.close()


def wait_for(what: str, check: Callable[[], bool], timeout: float = 20.0, step: Callable[[], None] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if step is not None:
            step()
        else:
            time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def guest_ip(ns: str, ifname: str = "eth0") -> str:
    out = sh("ip", "-o", "-4", "addr", "show", "dev", ifname, ns=ns)
    return out.split()[3].split("/")[0]


_SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(1); s.settimeout(20)
c, addr = s.accept(); print(addr[0])
"""


def source_seen(server_ns: str, client_ns: str, addr: str, port: int = 7070) -> str:
    """The source address a TCP connection from client_ns arrives with in server_ns."""
    import subprocess
    import sys

    server = subprocess.Popen(["ip", "netns", "exec", server_ns, sys.executable, "-c", _SERVER, str(port)],
                              stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and f":{port}" not in sh("ss", "-ltn", ns=server_ns):
            time.sleep(0.05)
        sh(sys.executable, "-c", f"import socket; socket.create_connection(('{addr}', {port}), timeout=5).close()",
           ns=client_ns)
        out, _ = server.communicate(timeout=20)
        return out.strip()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()

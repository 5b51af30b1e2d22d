"""Test topology for cluster networks: "hosts" as namespaces on one underlay bridge (in its own
switch namespace), each with its own wirework state, and helpers to drive their agents."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import Namespaces, sh
from wirework.cluster.agent import Agent, AgentConfig

UNDERLAY = "10.97.0"


@dataclass
class Hosts:
    netns: Namespaces
    state_dir: str
    switch: str = ""
    names: dict[str, str] = field(default_factory=dict)  # label -> namespace
    ips: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, Any] = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)
    logs: dict[str, list[str]] = field(default_factory=dict)

    def add(self, label: str, *, ip: str | None = None) -> str:
        from wirework.api import Wirework

        if not self.switch:
            self.switch = self.netns("sw")
            sh("ip", "link", "add", "br0", "type", "bridge", ns=self.switch)
            sh("ip", "link", "set", "br0", "up", ns=self.switch)
        ns = self.netns(label)
        ip = ip or f"{UNDERLAY}.{len(self.names) + 1}"
        port = f"p{len(self.names)}{label}"[:15]
        sh("ip", "link", "add", port, "netns", self.switch, "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "link", "set", port, "master", "br0", "up", ns=self.switch)
        sh("ip", "addr", "add", f"{ip}/24", "dev", "eth0", ns=ns)
        sh("ip", "link", "set", "eth0", "up", ns=ns)
        self.names[label], self.ips[label] = ns, ip
        self.sessions[label] = Wirework(netns=ns, state_dir=f"{self.state_dir}/{label}")
        return ns

    def agent(self, label: str, store: Any, *, ttl: float = 10.0, **kw: Any) -> Agent:
        log = self.logs.setdefault(label, [])
        config = AgentConfig(self.names[label], self.ips[label], ttl, **kw)
        agent = Agent(self.sessions[label], store, config, log=log.append)
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

"""Shared by the cluster benchmarks: namespace "hosts" on one underlay bridge, agents in threads.

Everything is made with names unique to the run and removed by `close()`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from wirework.api import Wirework
from wirework.cluster.agent import Agent, AgentConfig
from wirework.kernel.ovs_instance import default_rundir, start_instance

RUN = uuid.uuid4().hex[:5]


def sh(*argv: str, ns: str | None = None, check: bool = True) -> str:
    full = ["ip", "netns", "exec", ns, *argv] if ns else list(argv)
    return subprocess.run(full, capture_output=True, text=True, check=check, timeout=120).stdout


class ClusterLab:
    def __init__(self, tag: str = "c") -> None:
        self.tag = tag
        self.spaces: list[str] = []
        self.state = tempfile.mkdtemp(prefix="wwbench")
        self.switch = self.ns("sw")
        sh("ip", "link", "add", "br0", "type", "bridge", ns=self.switch)
        sh("ip", "link", "set", "br0", "up", ns=self.switch)
        self.hosts: dict[str, tuple[str, str]] = {}  # label -> (netns, underlay ip)
        self.sessions: dict[str, Wirework] = {}
        self.agents: dict[str, Agent] = {}
        self._threads: dict[str, tuple[threading.Thread, threading.Event]] = {}
        self.cleanups: list[Any] = []

    def ns(self, label: str) -> str:
        name = f"wwb{RUN}{self.tag}{label}"[:40]
        sh("ip", "netns", "add", name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        self.spaces.append(name)
        return name

    def host(self, label: str, store: Any = None, *, ovs: bool = False) -> str:
        ns = self.ns(label)
        index = len(self.hosts) + 1
        ip = f"10.95.{index // 250}.{index % 250 + 1}"
        port = f"p{index}"
        sh("ip", "link", "add", port, "netns", self.switch, "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "link", "set", port, "master", "br0", "up", ns=self.switch)
        sh("ip", "addr", "add", f"{ip}/16", "dev", "eth0", ns=ns)
        sh("ip", "link", "set", "eth0", "up", ns=ns)
        self.hosts[label] = (ns, ip)
        if ovs:  # before the session: it finds the host's private OVS by its run directory
            inst = start_instance(ns)
            self.cleanups.append(lambda: (inst.stop(), shutil.rmtree(default_rundir(ns), ignore_errors=True)))
        self.sessions[label] = Wirework(netns=ns, state_dir=f"{self.state}/{label}", cluster_store=store)
        return ns

    def agent(self, label: str, store: Any, ttl: float = 10.0) -> Agent:
        ns, ip = self.hosts[label]
        agent = Agent(self.sessions[label].context, store, AgentConfig(ns, ip, ttl))
        self.agents[label] = agent
        return agent

    def run_in_thread(self, label: str) -> float:
        """Start the agent and step it in a thread of its own, as `wirework agent` would; the
        start's duration. (Netlink sockets stay in the thread that opened them: start there.)"""
        stop, started = threading.Event(), threading.Event()
        agent = self.agents[label]
        took: list[float] = []
        failed: list[BaseException] = []

        def loop() -> None:
            t0 = time.monotonic()
            try:
                agent.start()
            except BaseException as exc:
                failed.append(exc)
                started.set()
                return
            took.append(time.monotonic() - t0)
            started.set()
            while not stop.is_set():
                agent.step(0.2)

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        started.wait(60)
        if failed:
            raise failed[0]
        self._threads[label] = (thread, stop)
        return took[0]

    def halt(self, label: str) -> None:
        thread, stop = self._threads.pop(label)
        stop.set()
        thread.join(5)

    def close(self) -> None:
        for label in list(self._threads):
            self.halt(label)
        for agent in self.agents.values():
            try:
                agent.stop()
            except Exception:
                pass
        for session in self.sessions.values():
            session.close()
        for cleanup in self.cleanups:
            cleanup()
        for name in reversed(self.spaces):
            subprocess.run(["ip", "netns", "del", name], check=False)
        shutil.rmtree(self.state, ignore_errors=True)


def guest_ip(ns: str) -> str:
    return sh("ip", "-o", "-4", "addr", "show", "dev", "eth0", ns=ns).split()[3].split("/")[0]

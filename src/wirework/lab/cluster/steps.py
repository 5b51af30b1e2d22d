"""Cluster networks in a lab (S11): an etcd, networks defined there, agents on hosts, guests that
connect — one file, with no host subnet written in it.

    etcd: {}                                    # the lab's etcd (wirework.lab.etcd)
    networks:
      blue: {driver: vxlan, subnet: 10.244.0.0/16}
    hosts:
      h1:
        agent: {}                               # runs `wirework agent` for this host
        guests:
          c1: {connect: blue}                   # an address from h1's subnet of blue

`up` defines the networks (the same `network create` a user would type, so a converging run
finds them defined), starts each host's agent as a lab program (stopped by `down`) and waits
until it has joined, then connects the guests through the host's own session. Agents run
where the etcd answers: in their host's namespace when the etcd lives in a lab host, else in
this machine's (with `--netns`), as the lab's other programs are run.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from wirework.errors import Conflict, InvalidInput
from wirework.kernel.proc import read_text
from wirework.lab.model import Topology
from wirework.lab.resolve import LabNames
from wirework.lab.steps import StopProgram, lab_ops
from wirework.model.host import Host
from wirework.plan.steps import Step, register

Problems = list[tuple[int, str]]
JOIN_TIMEOUT = 60.0
#: nsenter into this path enters its own namespace: the lab's (for an etcd on its loopback).
OWN_NAMESPACE = "/proc/self/ns/net"
_OPTIONS = {"host_subnet_len": "--host-subnet-len", "vni": "--vni", "mtu": "--mtu"}


def problems(topo: Topology) -> Problems:
    """What the schema cannot check: definitions, who connects where, what the agents need."""
    from wirework.cluster.model import validate_cluster_network

    out: Problems = []
    for name, body in topo.networks.items():
        try:
            validate_cluster_network(name, **{k: v for k, v in body.items() if k != "line"})
        except InvalidInput as exc:
            out.append((int(body.get("line", 0)), f"network {name}: {exc}"))
    agents = {h.name for h in topo.hosts.values() if h.agent is not None}
    if (topo.networks or agents) and topo.etcd is None:
        out.append((min([h.line for h in topo.hosts.values() if h.agent is not None] or [1]),
                    "cluster networks and agents need the lab's etcd: add 'etcd: {}'"))
    for guest in topo.guests.values():
        for net in guest.connect:
            if net not in topo.networks:
                known = ", ".join(topo.networks) or "none"
                out.append((guest.line, f"guest {guest.name} connects to {net!r}, which is not under networks: "
                                        f"(defined: {known})"))
            elif guest.host not in agents:
                out.append((guest.line, f"guest {guest.name} connects to cluster network {net}, but its host "
                                        f"{guest.host} runs no agent: add 'agent: {{}}' to {guest.host}"))
    for host in (topo.hosts[h] for h in sorted(agents)):
        if not topo.members_of(host.name) and not (host.agent or {}).get("public_ip"):
            out.append((host.line, f"host {host.name} runs an agent but has no segment address to be reached at"))
        needs_ovs = any(d.get("driver", "").startswith("ovs-") for d in topo.networks.values())
        if needs_ovs and not host.ovs:
            out.append((host.line, f"host {host.name} joins Open vSwitch cluster networks: add 'ovs: true'"))
    return out


def public_ip(topo: Topology, host: str) -> str:
    agent = topo.hosts[host].agent or {}
    if agent.get("public_ip"):
        return str(agent["public_ip"])
    return next(m.address.split("/")[0] for _, m in topo.members_of(host))


def wirework_argv(*args: str, ovs_db: str | None = None) -> list[str]:
    env = ["env", "WIREWORK_NO_SERVICE=1"] + ([f"WIREWORK_OVS_DB={ovs_db}"] if ovs_db else [])
    return [*env, sys.executable, "-m", "wirework.cli.main", *args]


def define_argv(url: str, name: str, body: dict[str, Any]) -> list[str]:
    argv = ["--store", url, "network", "create", name, "--driver", str(body["driver"]), "--subnet", str(body["subnet"])]
    for key, flag in _OPTIONS.items():
        if body.get(key) is not None:
            argv += [flag, str(body[key])]
    return wirework_argv(*argv)


@register
@dataclass(frozen=True)
class DefineClusterNetworks(Step):
    """`wirework network create ... --driver` for each of the lab's networks (an identical
    definition is found, not made twice); they go with the lab's etcd at `down`."""

    kind = "lab_define_cluster_networks"
    ns: str  # where the etcd answers: its lab host, or OWN_NAMESPACE
    argvs: tuple[tuple[str, ...], ...]

    def apply(self, host: Host) -> Sequence[Step]:
        for argv in self.argvs:
            host.proc.run_in(self.ns, list(argv), timeout=60)
        return ()

    def changes_existing(self) -> bool:
        return False  # it only adds definitions (an identical one is found); they go with the etcd

    def describe(self) -> str:
        names = [a[a.index("create") + 1] for a in self.argvs]
        return f"define cluster network{'s' if len(names) > 1 else ''} {', '.join(names)} in the lab's etcd"

    def commands(self) -> list[str]:
        return [" ".join(a[a.index("-m") + 2:]) for a in self.argvs]


@register
@dataclass(frozen=True)
class StartAgent(Step):
    """A host's `wirework agent` as a lab program; done when it says it joined."""

    kind = "lab_start_agent"
    host_name: str
    ns: str  # where it runs (nsenter --net=)
    argv: tuple[str, ...]
    pidfile: str
    log: str

    def apply(self, host: Host) -> Sequence[Step]:
        ops = lab_ops(host)
        if ops.daemon_alive(self.pidfile):
            return ()
        ops.daemon_start(self.ns, list(self.argv), self.pidfile, self.log)
        deadline = time.monotonic() + JOIN_TIMEOUT
        while time.monotonic() < deadline:
            text = read_text(self.log)
            if " joined in " in text:
                return [StopProgram(self.pidfile)]
            if not ops.daemon_alive(self.pidfile):
                raise Conflict(f"the agent of lab host {self.host_name} exited: {_last_line(text)} (log {self.log})")
            time.sleep(0.05)
        ops.daemon_stop(self.pidfile)
        raise Conflict(f"the agent of lab host {self.host_name} did not join within {JOIN_TIMEOUT:g} s "
                       f"(log {self.log}): {_last_line(read_text(self.log))}")

    def crash_undo(self) -> Sequence[Step]:
        return [StopProgram(self.pidfile)]

    def changes_existing(self) -> bool:
        return False  # a program of its own, stopped by its pidfile whether or not it started

    def describe(self) -> str:
        return f"start the cluster agent of {self.host_name} and wait until it joined (log {self.log})"

    def commands(self) -> list[str]:
        return [f"nsenter --net={self.ns} {' '.join(self.argv[self.argv.index('-m') + 2:])} >{self.log} 2>&1 &"]


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def agent_argv(topo: Topology, host: str, netns: str, state_dir: str, url: str, ovs_db: str | None) -> list[str]:
    agent = topo.hosts[host].agent or {}
    return wirework_argv("--store", url, "agent", "--netns", netns, "--state-dir", state_dir,
                         "--public-ip", public_ip(topo, host), "--lease-ttl", str(agent.get("lease_ttl", "10s")),
                         ovs_db=ovs_db)


def plan_cluster(topo: Topology, names: LabNames, etcd_url: str) -> list[Step]:
    """Define the lab's cluster networks, then start every agent (each waits until it joined).

    Who talks to the etcd runs where it answers: inside each host when the etcd lives in a lab
    host (over the lab's segments), else in this machine's namespace (its loopback)."""
    if not etcd_url or not (topo.networks or any(h.agent is not None for h in topo.hosts.values())):
        return []
    in_host = topo.etcd.host if topo.etcd is not None else None
    steps: list[Step] = []
    if topo.networks:
        argvs = tuple(tuple(define_argv(etcd_url, name, body)) for name, body in definitions(topo).items())
        steps.append(DefineClusterNetworks(names.ns_path(in_host) if in_host else OWN_NAMESPACE, argvs))
    for host in (h for h in topo.hosts.values() if h.agent is not None):
        ovs_db = names.ovs_socket(host.name) if host.ovs else None
        argv = agent_argv(topo, host.name, names.ns(host.name), names.host_state(host.name), etcd_url, ovs_db)
        run_ns = names.ns_path(host.name) if in_host else OWN_NAMESPACE
        steps.append(StartAgent(host.name, run_ns, tuple(argv), os.path.join(names.run_dir, f"agent-{host.name}.pid"),
                                os.path.join(names.run_dir, f"agent-{host.name}.log")))
    return steps


def connect_steps_args(topo: Topology, names: LabNames, guest: str) -> list[dict[str, Any]]:
    """The `connect` setup items of a guest, after its attachments (interface names follow them)."""
    g = topo.guests[guest]
    return [{"guest": f"netns:{names.ns(guest)}", "guest_name": guest, "network": net,
             "ifname": f"eth{len(g.attach) + i}"} for i, net in enumerate(g.connect)]


def definitions(topo: Topology) -> dict[str, dict[str, Any]]:
    return {name: {k: v for k, v in body.items() if k != "line"} for name, body in topo.networks.items()}





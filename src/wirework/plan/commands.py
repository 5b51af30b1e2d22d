"""A plan as shell commands (`--dry-run --format commands`), each written to run where its step runs.

A step's `commands()` speaks of the host it runs on as "here": `ip link add br0 ...`, `nft ...`,
`sysctl -w ...`, `ovs-vsctl ...`, and names every other namespace itself (`ip_in(ns)`,
`run_in(ns)`: `ip -n g1`, `nsenter -t PID -n` for a container, `nsenter --net=PATH`).
`for_host` then places each "here" command in the host's namespace when the host is one
(`--netns h1`, a lab host), and points `ovs-vsctl` at the host's own OVS database, so that
the printed lines, pasted into a root shell, change exactly what `apply` would change.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable

from wirework.plan.steps import Plan

#: Stands for "the host's namespace" where a command must name it (`ip link set X netns HOST`).
HOST_NETNS = "@HOST_NETNS@"
#: Commands that already say where they run (or act on the machine as a whole).
_QUALIFIED = ("ip -n ", "ip -netns ", "ip netns ", "nsenter ", "bridge -n ", "#", "wirework ", "WIREWORK_", "mkdir ")


def _pid_of(path: str) -> str | None:
    match = re.fullmatch(r"/proc/(\d+)/ns/net", path)
    return match.group(1) if match else None


def run_in(ns: str | None) -> str:
    """The prefix that runs a program inside the namespace at path `ns` ("" for here)."""
    if ns is None:
        return ""
    if ns.startswith("/run/netns/"):
        return f"ip netns exec {shlex.quote(os.path.basename(ns))} "
    pid = _pid_of(ns)
    if pid is not None:
        return f"nsenter -t {pid} -n "  # a container: its process's namespace
    return f"nsenter --net={shlex.quote(ns)} "


def ip_in(ns: str | None) -> str:
    """The `ip` command for the namespace at path `ns` ("ip" for here)."""
    if ns is None:
        return "ip"
    if ns.startswith("/run/netns/"):
        return f"ip -n {shlex.quote(os.path.basename(ns))}"
    return f"{run_in(ns)}ip"


def netns_arg(ns: str | None) -> str:
    """What `ip link set ... netns X` takes for the namespace at path `ns`: a name or a PID."""
    if ns is None:
        return HOST_NETNS
    if ns.startswith("/run/netns/"):
        return os.path.basename(ns)
    return _pid_of(ns) or ns


def for_host(command: str, netns: str | None, ovs_db: str | None = None) -> str:
    """One "here" command rewritten to run on the host `netns` (None: the root namespace)."""
    command = command.replace(HOST_NETNS, shlex.quote(netns) if netns else "1")
    if command.startswith("ovs-vsctl") and ovs_db and "--db=" not in command:
        command = f"ovs-vsctl --db=unix:{ovs_db}" + command[len("ovs-vsctl"):]
    if netns is None or command.startswith(_QUALIFIED) or command.startswith("ovs-vsctl"):
        return command  # ovs-vsctl reaches its database by socket, from any namespace
    name = shlex.quote(netns)
    for program in ("ip", "bridge"):
        if command.startswith(program + " "):
            return f"{program} -n {name} {command[len(program) + 1:]}"
    return f"ip netns exec {name} {command}"


def host_commands(steps: Iterable[object], netns: str | None = None, ovs_db: str | None = None) -> list[str]:
    """Every step's commands, for the host `netns`; a step without any gives a comment."""
    out: list[str] = []
    for step in steps:
        lines = step.commands() or [f"# {step.describe()} (no shell equivalent)"]  # type: ignore[attr-defined]
        out += [for_host(line, netns, ovs_db) for line in lines]
    return out


def plan_commands(plan: Plan, netns: str | None = None, ovs_db: str | None = None) -> list[str]:
    return host_commands(plan.steps, netns, ovs_db)

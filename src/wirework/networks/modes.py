"""The five network modes (S1) for guests wirework starts itself: `wirework run`.

- `bridge`: a new namespace connected to the default network wirework0 (default route there,
  as with `connect`: a guest's first network gives it, unless `--no-default-route`);
- `host`: the host's own namespace, nothing to wire;
- `none`: a new namespace with only `lo`;
- `container:GUEST`: the namespace of an existing guest (a pod's shared namespace);
- `NETWORK`: a new namespace connected to that user-defined network.

A started guest is recorded under `run/<host>/<name>` (mode, namespace, pid), so `up` can
clean up after guests whose process ended and `wirework rm NAME` can stop one.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from wirework.context import HostContext
from wirework.drivers.links import LinkUp
from wirework.drivers.namespaces import CreateNetns, DeleteNetns
from wirework.errors import Conflict, InvalidInput, NotFound, did_you_mean
from wirework.guests import spawn
from wirework.kernel.proc import process_alive, process_start
from wirework.networks import connops, endpoints
from wirework.networks import network as nets
from wirework.networks.connect import validate_connect
from wirework.networks.network import DEFAULT_NETWORK, validate_network_name
from wirework.plan.executor import run_best_effort
from wirework.plan.steps import Plan

PREFIX = "run/"
NETNS_DIR = "/run/netns"


@dataclass(frozen=True)
class RunSpec:
    mode: str  # bridge, host, none, container:GUEST, or a network name
    command: tuple[str, ...]
    name: str
    ip: str | None = None
    publish: tuple[str, ...] = ()
    detach: bool = False
    no_sysctl: bool = False
    log_dir: str | None = None  # where a detached guest's output goes (default: discarded)
    default_route: bool | None = None  # as `connect`: None gives it (a new namespace has none)

    @property
    def own_netns(self) -> bool:
        return self.mode not in ("host",) and not self.mode.startswith("container:")

    @property
    def network(self) -> str | None:
        if self.mode == "bridge":
            return DEFAULT_NETWORK
        return None if self.mode in ("host", "none") or self.mode.startswith("container:") else self.mode


@dataclass(frozen=True)
class RunRecord:
    name: str
    host: str
    mode: str
    netns: str  # the namespace's path ("" for host mode: the host's own)
    command: tuple[str, ...]
    pid: int = 0
    pid_start: str = ""
    own_netns: bool = False
    created: float = 0.0

    def alive(self) -> bool:
        return process_alive(self.pid, self.pid_start)


def validate_run(net: str, command: list[str], *, name: str | None = None, ip: str | None = None,
                 publish: tuple[str, ...] | list[str] = (), detach: bool = False, no_sysctl: bool = False,
                 log_dir: str | None = None, default_route: bool | None = None) -> RunSpec:
    if not command:
        raise InvalidInput(what="command", value="", why="give the command after --, e.g. wirework run -- sh")
    if net not in ("bridge", "host", "none") and not net.startswith("container:"):
        validate_network_name(net)
    if net.startswith("container:") and not net.split(":", 1)[1]:
        raise InvalidInput(what="network mode", value=net, why="name the guest: container:NAME")
    name = name or f"wwr-{uuid.uuid4().hex[:8]}"
    if not name or len(name) > 64 or "/" in name or name.startswith("."):
        raise InvalidInput(what="guest name", value=name, why="use up to 64 characters without '/'")
    spec = RunSpec(net, tuple(command), name, ip, tuple(publish), detach, no_sysctl, log_dir, default_route)
    if (ip or publish) and spec.network is None:
        raise InvalidInput(what="--ip/-p", value=ip or publish[0], why=(
            f"mode {net} gives the guest no address of its own; use --net bridge or a network name"))
    if spec.network is not None:  # validate the connection options before anything is made
        validate_connect(spec.network, name, ip=ip, publish=list(publish), default_route=default_route)
    return spec


def run_key(host: str, name: str) -> str:
    return f"{PREFIX}{host}/{name}"


def load(ctx: HostContext, name: str) -> RunRecord | None:
    entry = ctx.store.get(run_key(ctx.host_id, name))
    return RunRecord(**{**entry.value, "command": tuple(entry.value["command"])}) if entry else None


def all_runs(ctx: HostContext) -> list[RunRecord]:
    return [RunRecord(**{**e.value, "command": tuple(e.value["command"])}) for e in ctx.store.scan(f"{PREFIX}{ctx.host_id}/")]


def _save(ctx: HostContext, rec: RunRecord) -> None:
    ctx.store.put(run_key(ctx.host_id, rec.name), {**asdict(rec), "command": list(rec.command)})


@dataclass(frozen=True)
class RunResult:
    name: str
    mode: str
    netns: str
    pid: int = 0  # a detached guest's process
    exit_code: int = 0  # a foreground command's exit status
    stdout: str | None = None  # its output, when captured (--json)
    stderr: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run(ctx: HostContext, spec: RunSpec, *, capture: bool = False) -> RunResult:
    """Start the guest; a foreground run waits, then removes it and returns the exit status.
    A detached run leaves the guest running (`wirework rm NAME` removes it)."""
    ctx.before_change()
    prepared = prepare(ctx, spec)
    if spec.detach:
        log = os.path.join(spec.log_dir, f"run-{spec.name}.log") if spec.log_dir else os.devnull
        pid = spawn.start_detached(list(spec.command), prepared.netns or None, log)
        _save(ctx, RunRecord(**{**asdict(prepared), "pid": pid, "pid_start": process_start(pid)}))
        return RunResult(spec.name, spec.mode, prepared.netns, pid)
    try:
        code, out, err = spawn.run_foreground(list(spec.command), prepared.netns or None, capture=capture)
        return RunResult(spec.name, spec.mode, prepared.netns, 0, code, out, err)
    finally:
        remove(ctx, spec.name)


def check_run(ctx: HostContext, spec: RunSpec) -> list[str]:
    """Every check that can refuse the run, before anything is made; what it will do, one line each."""
    old = load(ctx, spec.name)
    if old is not None and old.alive():
        raise Conflict(f"guest {spec.name} is running (pid {old.pid}); stop it with 'wirework rm {spec.name}' "
                       f"or choose another --name")
    if spec.own_netns and old is None and os.path.exists(f"{NETNS_DIR}/{spec.name}"):
        raise Conflict(f"network namespace {spec.name!r} already exists; choose another --name")
    said = [f"create network namespace {spec.name}"] if spec.own_netns else []
    if spec.mode.startswith("container:"):
        target = ctx.resolve(spec.mode.split(":", 1)[1])
        said.append(f"share the network namespace of {target.name}")
    if spec.network is not None and spec.network != DEFAULT_NETWORK:
        net = nets.require(ctx.store, ctx.host_id, spec.network)
        if spec.ip is not None:
            net.addresses().check_static(spec.ip)
    if spec.network is not None:
        ports = f", publish {', '.join(spec.publish)}" if spec.publish else ""
        route = "" if spec.default_route is False else ", default route"
        said.append(f"connect it to network {spec.network} as eth0 ({spec.ip or 'next free address'}{route}){ports}")
    return [*said, f"run {' '.join(spec.command)}" + (" in the background" if spec.detach else "")]


def prepare(ctx: HostContext, spec: RunSpec) -> RunRecord:
    """Make the guest's namespace and wire it; recorded before anything is made, and all of
    it removed again when any part fails (a failed run leaves nothing)."""
    check_run(ctx, spec)
    if load(ctx, spec.name) is not None:
        remove(ctx, spec.name)  # the leftovers of an earlier run of that name
    netns = _target_netns(ctx, spec)
    # Until a detached command takes over, the guest lives as long as this wirework process.
    rec = RunRecord(spec.name, ctx.host_id, spec.mode, netns, spec.command, os.getpid(), process_start(os.getpid()),
                    own_netns=spec.own_netns, created=time.time())
    _save(ctx, rec)
    try:
        if spec.own_netns:
            owner = f"run:{spec.name}"
            ctx.executor().run(Plan("run", owner, (CreateNetns(spec.name, owner), LinkUp("lo", netns))))
        if spec.network is not None:
            ww_connect(ctx, spec, "bridge" if spec.mode == "bridge" else spec.mode)
    except BaseException:
        remove(ctx, spec.name)
        raise
    return rec


def ww_connect(ctx: HostContext, spec: RunSpec, mode: str) -> None:
    assert spec.network is not None
    cspec = validate_connect(spec.network, f"netns:{spec.name}", ip=spec.ip, publish=list(spec.publish),
                             default_route=spec.default_route, no_sysctl=spec.no_sysctl, mode=mode, ifname="eth0")
    connops.connect(ctx, cspec)


def _target_netns(ctx: HostContext, spec: RunSpec) -> str:
    if spec.mode == "host":
        return f"{NETNS_DIR}/{ctx.host.netns}" if ctx.host.netns else ""
    if spec.mode.startswith("container:"):
        return ctx.resolve(spec.mode.split(":", 1)[1]).netns_path
    if os.path.exists(f"{NETNS_DIR}/{spec.name}"):
        raise Conflict(f"network namespace {spec.name!r} already exists; choose another --name")
    return f"{NETNS_DIR}/{spec.name}"


def require(ctx: HostContext, name: str) -> RunRecord:
    rec = load(ctx, name)
    if rec is None:
        hint = did_you_mean(name, [r.name for r in all_runs(ctx)])
        raise NotFound(what="guest started by wirework run", name=name,
                       fix=hint.lstrip("; ") or "list them with 'wirework ps'")
    return rec


def remove(ctx: HostContext, name: str) -> RunRecord:
    """Stop a started guest and remove its connections and namespace (repeatable)."""
    ctx.before_change()
    rec = require(ctx, name)
    if rec.alive() and rec.pid != os.getpid():
        spawn.stop(rec.pid)
    for ep in endpoints.of_guest(ctx.store, ctx.host_id, f"netns:{name}"):
        connops.drop_endpoint(ctx, ep)
    if rec.own_netns:
        run_best_effort(ctx.host, [DeleteNetns(name, f"run:{name}")])
    ctx.store.delete(run_key(ctx.host_id, name))
    return rec


def view(rec: RunRecord) -> dict[str, Any]:
    return {"name": rec.name, "mode": rec.mode, "netns": rec.netns or "(host)", "pid": rec.pid,
            "state": "running" if rec.alive() else "exited", "command": " ".join(rec.command)}

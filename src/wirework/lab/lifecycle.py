"""lab up / down / status: run the lab's plan through the executor and keep its records.

Stores: the wirework state store (`--state-dir`) keeps an index entry `lab/<name>` (file,
directories) so `lab down NAME` and `lab status` find a lab; the lab's own store
(`<state>/labs/<name>/state.db`) keeps its journal (`ops/...`) and what it made
(`lab/<name>/undo/<time>`), apart from the real host's journals, whose steps run elsewhere.
Each lab host has its own state dir below it, as a real machine has its own.

The lab builds no adapters itself: the API layer (`wirework.api.lab`) hands `LabManager` a
`LabEnvironment` that opens stores, makes the switch namespace's runtime host (with one
`Wirework` session per lab host) and answers the few questions about the machine.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from wirework.errors import NotFound, Unsupported, did_you_mean
from wirework.lab import etcd as lab_etcd
from wirework.lab.build import LabFacts, plan_down, plan_up
from wirework.lab.etcd import EtcdOps, StopEtcd
from wirework.lab.loader import LabFileError, load_file
from wirework.lab.model import Topology
from wirework.lab.resolve import LabNames
from wirework.lab.steps import LabOps, StopOvs, StopProgram
from wirework.lab.topology import build
from wirework.model.host import Host
from wirework.naming import owner_of
from wirework.plan.commands import plan_commands
from wirework.plan.executor import Executor, FaultHook, env_fault_hook, recover, run_best_effort
from wirework.plan.steps import Plan, Step, step_from_dict
from wirework.store.base import Op, Put, Store

Progress = Callable[[int, int, Step], None]


@dataclass(frozen=True)
class UpResult:
    name: str
    plan: Plan
    changed: int
    seconds: float


@dataclass(frozen=True)
class LabStatus:
    name: str
    path: str
    namespaces: list[str]
    programs: dict[str, bool]
    ovs: dict[str, bool]
    etcd: str = ""  # the store URL of the lab's etcd, when it has one running


class LabRuntime(Host, LabOps, EtcdOps, Protocol):
    """The host the lab's plan runs on: the switch namespace's adapters plus `LabOps`."""

    def names(self, prefix: str) -> list[str]: ...  # the named namespaces whose names start so
    def close(self) -> None: ...


class LabEnvironment(Protocol):
    """What the lab needs from the layer that builds adapters (`wirework.api.lab`)."""

    #: the state directory holding the lab index (`lab/<name>`) and each lab's own state
    state_root: str
    #: the type of a lab host's session: a kind whose `requires` method it lacks is refused
    session_type: type

    def runtime(self, switch_ns: str) -> LabRuntime: ...
    def open_store(self, state_dir: str | None) -> Store: ...  # None: a throwaway in-memory store
    def netem_available(self) -> bool: ...
    def namespaces(self, prefix: str) -> list[str]: ...
    def program_alive(self, pidfile: str) -> bool: ...
    def ovs_running(self, netns: str, rundir: str) -> bool: ...
    def etcd_running_layout(self, root: str) -> str: ...  # "" unless every member of the cluster runs


class LabManager:
    def __init__(self, env: LabEnvironment, *, run_root: str | None = None) -> None:
        self.env = env
        self.state_root = env.state_root
        self.run_root = run_root
        self._index: Store | None = None

    @property
    def index(self) -> Store:
        if self._index is None:
            self._index = self.env.open_store(self.state_root)
        return self._index

    def close(self) -> None:
        if self._index is not None:
            self._index.close()

    def names(self, lab: str) -> LabNames:
        return LabNames(lab, self.state_root, self.run_root) if self.run_root else LabNames(lab, self.state_root)

    def load(self, path: str) -> Topology:
        return build(load_file(path), self.env.session_type)

    def topology(self, ref: str) -> Topology:
        """A lab by file path or by the name it was brought up under."""
        if os.path.exists(ref):
            return self.load(ref)
        entry = self.index.get(f"lab/{ref}")
        if entry is None:
            hint = did_you_mean(ref, self.lab_names())
            raise NotFound(what="lab", name=ref, fix=hint.lstrip("; ") or "give the lab file, or see 'wirework lab status'")
        return self.load(str(entry.value["file"]))

    def lab_names(self) -> list[str]:
        """The labs this state dir knows as up."""
        return [e.key.split("/", 1)[1] for e in self.index.scan("lab/")]

    def require_known(self, ref: str) -> str:
        """The name of a lab given by file, or by a name that is up or has left namespaces."""
        name = self.name_of(ref)
        names = self.names(name)
        if os.path.exists(ref) or name in self.lab_names() or self.env.namespaces(names.prefix) \
                or self.env.namespaces(names.switch_ns):
            return name
        hint = did_you_mean(name, self.lab_names())
        raise NotFound(f"lab {name!r} is not up" + (hint or "; see 'wirework lab status'"))

    def require_up(self, topo: Topology) -> None:
        """Refuse (naming the fix) to act on a lab that is not up: its namespaces are missing."""
        names = self.names(topo.name)
        if self.index.get(f"lab/{topo.name}") is None or not self.env.namespaces(names.switch_ns):
            raise NotFound(f"lab {topo.name} is not up; bring it up with 'wirework lab up {topo.path}'")

    def node_env(self, topo: Topology, node: str) -> dict[str, str]:
        """What a command run on a lab node needs to find that node's own things: a host
        with a private Open vSwitch gets its run directory (ovs-vsctl, ovs-appctl find it)."""
        host = topo.hosts.get(node)
        if host is None or not host.ovs:
            return {}
        rundir = self.names(topo.name).ovs_dir(node)
        return {v: rundir for v in ("OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR")}

    def commands(self, topo: Topology, plan: Plan) -> list[str]:
        """The lab's plan as shell commands: the lab's own steps act in its switch namespace."""
        return plan_commands(plan, self.names(topo.name).switch_ns)

    # -- up --------------------------------------------------------------------------------
    def up(self, topo: Topology, *, dry_run: bool = False, progress: Progress | None = None) -> UpResult:
        names = self.names(topo.name)
        if any(s.delay or s.loss for s in topo.segments) and not self.env.netem_available():
            seg = next(s for s in topo.segments if s.delay or s.loss)
            raise Unsupported(feature="tc netem (segment delay/loss)",
                              why=f"this kernel has no netem qdisc; remove delay:/loss: from segment {seg.name} "
                                  f"({topo.path}:{seg.line}) or use rate: (tbf), which works")
        started = time.monotonic()
        runtime = self.env.runtime(names.switch_ns)
        store = self.env.open_store(names.state_dir if not dry_run else None)
        try:
            if not dry_run:
                recover(runtime, store, legacy=True)  # a lab store serves this one host
            plan = plan_up(topo, names, self._probe(runtime, names, topo))
            if dry_run:
                return UpResult(topo.name, plan, 0, 0.0)
            self.index.put(f"lab/{topo.name}", {"file": os.path.abspath(topo.path), "state_dir": names.state_dir,
                                                "run_dir": names.run_dir})
            os.makedirs(names.run_dir, exist_ok=True)
            try:
                undo = Executor(runtime, store, _hook(progress, len(plan.steps))).run(plan, _commit(topo.name))
            except Exception:
                new_lab = not store.scan(f"lab/{topo.name}/undo/")
                store.close()
                if new_lab:  # rolled back to nothing: forget the lab too
                    self._forget(names)
                raise
            return UpResult(topo.name, plan, len(undo), time.monotonic() - started)
        finally:
            runtime.close()
            store.close()

    def _forget(self, names: LabNames) -> None:
        for path in (names.state_dir, names.run_dir):
            shutil.rmtree(path, ignore_errors=True)
        self.index.delete(f"lab/{names.lab}")

    def _probe(self, runtime: LabRuntime, names: LabNames, topo: Topology) -> LabFacts:
        spaces = frozenset(runtime.names(names.prefix) + runtime.names(names.switch_ns))
        links: frozenset[str] = frozenset()
        if names.switch_ns in spaces:
            links = frozenset(link.name for link in runtime.net.links())
        running = {s.pidfile for s in self._leftovers(names) if isinstance(s, StopProgram)
                   if runtime.daemon_alive(s.pidfile)}
        running |= {s.rundir for s in self._leftovers(names) if isinstance(s, StopOvs)
                    if runtime.ovs_running(s.netns, s.rundir)}
        addresses = frozenset((h, a.cidr) for h in topo.hosts if names.ns(h) in spaces
                              for a in runtime.net.addresses(names.ns_path(h)))
        routed = frozenset(h for h in topo.hosts if names.ns(h) in spaces
                           if any(r.dst == "default" for r in runtime.net.routes(names.ns_path(h))))
        layout, etcd_up = lab_etcd.probe_layout(runtime, names, topo)
        return LabFacts(spaces, links, frozenset(running), addresses, routed, layout, etcd_up)

    # -- down ------------------------------------------------------------------------------
    def down(self, ref: str) -> list[str]:
        """Remove everything the lab made; returns what could not be removed (empty: all gone)."""
        name = self.name_of(ref)
        names = self.names(name)
        runtime = self.env.runtime(names.switch_ns)
        store = self.env.open_store(names.state_dir)
        try:
            errors = recover(runtime, store, legacy=True)
            errors = [e for e in errors if "(" in e]
            recorded = [step_from_dict(d) for e in store.scan(f"lab/{name}/undo/") for d in e.value]
            plan = plan_down(names, recorded + self._leftovers(names), self._tagged(runtime, names))
            errors += run_best_effort(runtime, plan.steps)
        finally:
            runtime.close()
            store.close()
        if not errors:
            self._forget(names)
        return errors

    def name_of(self, ref: str) -> str:
        """The lab's name, from its file or its name."""
        if os.path.isfile(ref):
            try:
                return self.load(ref).name
            except LabFileError:
                pass
            path = os.path.abspath(ref)
            for entry in self.index.scan("lab/"):
                if isinstance(entry.value, dict) and entry.value.get("file") == path:
                    return entry.key.split("/", 1)[1]
        return ref

    @staticmethod
    def _leftovers(names: LabNames) -> list[Step]:
        """Programs and OVS instances found in the run dir (a crash may have beaten the records)."""
        out: list[Step] = []
        if os.path.isdir(names.run_dir):
            out += [StopProgram(os.path.join(names.run_dir, f)) for f in os.listdir(names.run_dir) if f.endswith(".pid")]
        ovs_root = os.path.join(names.run_dir, "ovs")
        if os.path.isdir(ovs_root):
            out += [StopOvs(names.ns(h), os.path.join(ovs_root, h)) for h in os.listdir(ovs_root)]
        if os.path.isdir(lab_etcd.root(names.lab)):
            out.append(StopEtcd(lab_etcd.root(names.lab)))
        return out

    @staticmethod
    def _tagged(runtime: LabRuntime, names: LabNames) -> list[str]:
        out = []
        for ns in runtime.names(names.prefix) + runtime.names(names.switch_ns):
            if ns != names.switch_ns and not ns.startswith(names.prefix):
                continue
            lo = runtime.net.link("lo", "/run/netns/" + ns)
            if lo is not None and owner_of(lo.alias) == names.owner:
                out.append(ns)
        return out

    # -- status ----------------------------------------------------------------------------
    def status(self) -> list[LabStatus]:
        out = []
        for entry in self.index.scan("lab/"):
            name = entry.key.split("/", 1)[1]
            names = self.names(name)
            spaces = self.env.namespaces(names.prefix) + self.env.namespaces(names.switch_ns)
            programs = {}
            if os.path.isdir(names.run_dir):
                programs = {f[:-4]: self.env.program_alive(os.path.join(names.run_dir, f))
                            for f in sorted(os.listdir(names.run_dir)) if f.endswith(".pid")}
            ovs = {s.netns: self.env.ovs_running(s.netns, s.rundir) for s in self._leftovers(names)
                   if isinstance(s, StopOvs)}
            etcd = self.env.etcd_running_layout(lab_etcd.root(name))
            out.append(LabStatus(name, str(entry.value.get("file", "")), spaces, programs, ovs,
                                 lab_etcd.url_of(etcd) if etcd else ""))
        return out


def _hook(progress: Progress | None, total: int) -> FaultHook:
    fault = env_fault_hook()

    def hook(index: int, step: Step) -> None:
        if progress is not None:
            progress(index, total, step)
        if fault is not None:
            fault(index, step)

    return hook


def _commit(name: str) -> Callable[[list[Step]], list[Op]]:
    def commit(undo: list[Step]) -> list[Op]:
        if not undo:
            return []
        return [Put(f"lab/{name}/undo/{time.time_ns()}", [s.to_dict() for s in undo])]

    return commit

"""What the lab gets from the API layer: stores, the runtime host, per-host sessions.

`lab_manager(state_dir)` is how fronts (the CLI, benchmarks) reach the lab: a
`lab.lifecycle.LabManager` over a `KernelLabEnvironment`, which builds the real adapters
the lab's policy code must not build itself.
"""

from __future__ import annotations

from wirework.api.lab_runtime import LabRuntime
from wirework.api.session import Wirework
from wirework.kernel import labenv
from wirework.kernel.ovs_instance import instance_at
from wirework.lab.lifecycle import LabManager
from wirework.store import Store, open_store, state_dir


class KernelLabEnvironment:
    """`lab.lifecycle.LabEnvironment` on this machine: namespaces, programs and OVS for real."""

    session_type: type = Wirework

    def __init__(self, state_dir_path: str | None = None) -> None:
        self.state_root = state_dir(state_dir_path)

    def runtime(self, switch_ns: str) -> LabRuntime:
        return LabRuntime(switch_ns)

    def open_store(self, state_dir_path: str | None) -> Store:
        return open_store(state_dir_path=state_dir_path) if state_dir_path is not None else open_store("memory")

    def netem_available(self) -> bool:
        return labenv.netem_available()

    def namespaces(self, prefix: str) -> list[str]:
        return labenv.Namespaces().names(prefix)

    def program_alive(self, pidfile: str) -> bool:
        return labenv.Daemons().alive(pidfile)

    def ovs_running(self, netns: str, rundir: str) -> bool:
        return instance_at(netns, rundir).running()

    def etcd_running_layout(self, root: str) -> str:
        return LabRuntime.etcd_running_layout(root)


def lab_manager(state_dir_path: str | None = None, *, run_root: str | None = None) -> LabManager:
    """The lab manager for labs indexed in `state_dir_path` (default: the wirework state dir)."""
    return LabManager(KernelLabEnvironment(state_dir_path), run_root=run_root)

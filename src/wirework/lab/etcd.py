"""The lab's etcd: `etcd: {members: 1|3, host: NAME}` in a lab file, started by `up`, stopped by `down`.

    etcd:
      members: 3      # 1 (default) or 3
      host: h1        # run them inside lab host h1, on its first segment address (ports 2379,
                      # 22379, 32379); without it: on this machine's loopback, on free ports

The members are Debian's `etcd-server` on tmpfs (`wirework.store.etcd_members`), owned by the
lab (`/dev/shm/wirework-etcd/lab-<name>/`), not by the process that ran `up`. Their layout
(names, addresses, ports) is probed before planning — a converging `up` finds them running and
keeps them — so the plan can hand the store URL to the hosts' setup items: an item whose
`store:` argument is `etcd` gets the lab's URL (`etcd://127.0.0.1:P1,...`) in its place.

Where to put them: on loopback they serve processes of this machine's own namespace (wirework
itself, an agent run with `--netns HOST`); inside a lab host they serve programs running inside
the lab's hosts, over the lab's segments (and die with that host, for fault scenarios).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from wirework.lab.model import EtcdDef, Topology
from wirework.lab.resolve import LabNames
from wirework.model.host import Host
from wirework.plan.steps import Step, register

RUN_ROOT = "/dev/shm/wirework-etcd"
NS_PORTS = (2379, 2380, 22379, 22380, 32379, 32380)  # inside a lab host's own namespace: nobody else's
STORE_PLACEHOLDER = "etcd"


class EtcdOps(Protocol):
    """What the lab's runtime host does for its etcd (`wirework.api.lab_runtime` builds the members)."""

    def etcd_layout(self, tag: str, members: int, host: str, netns: str | None, ports: Sequence[int] | None) -> str: ...
    def etcd_running_layout(self, root: str) -> str: ...
    def etcd_start(self, layout: str) -> None: ...
    def etcd_stop(self, root: str) -> None: ...


def probe_layout(runtime: EtcdOps, names: LabNames, topo: Topology) -> tuple[str, bool]:
    """The lab's etcd layout and whether it runs: the running members' (a converging run keeps
    them), else a new one."""
    if topo.etcd is None:
        return "", False
    running = runtime.etcd_running_layout(root(topo.name))
    if running:
        return running, True
    host = topo.etcd.host
    netns = names.ns(host) if host else None
    ports = NS_PORTS[: 2 * topo.etcd.members] if host else None
    address = listen_address(topo) or "127.0.0.1"
    return runtime.etcd_layout(tag(topo.name), topo.etcd.members, address, netns, ports), False


def tag(lab: str) -> str:
    return f"lab-{lab}"


def root(lab: str) -> str:
    return f"{RUN_ROOT}/{tag(lab)}"


def parse(raw: Any, line: int) -> EtcdDef:
    body = raw or {}
    return EtcdDef(int(body.get("members", 1)), body.get("host"), line)


def problems(topo: Topology) -> list[tuple[int, str]]:
    """What the schema cannot check: the host exists and has an address to listen on."""
    etcd = topo.etcd
    if etcd is None or etcd.host is None:
        return []
    if etcd.host not in topo.hosts:
        return [(etcd.line, f"etcd: host {etcd.host!r} is not a host of this lab (hosts: {', '.join(topo.hosts)})")]
    if listen_address(topo) is None:
        return [(etcd.line, f"etcd: host {etcd.host} has no segment address for the members to listen on")]
    return []


def listen_address(topo: Topology) -> str | None:
    """The address the members listen on: the host's first segment address, or loopback."""
    etcd = topo.etcd
    if etcd is None or etcd.host is None:
        return "127.0.0.1"
    addresses = [m.address.split("/")[0] for _, m in topo.members_of(etcd.host)]
    return addresses[0] if addresses else None


def url_of(layout: str) -> str:
    raw = json.loads(layout)
    return "etcd://" + ",".join(f"{m['host']}:{m['client_port']}" for m in raw["members"])


def with_store_url(args: dict[str, Any], layout: str) -> dict[str, Any]:
    """A setup item's arguments with `store: etcd` replaced by the lab's store URL."""
    if layout and args.get("store") == STORE_PLACEHOLDER:
        return {**args, "store": url_of(layout)}
    return args


def _ops(host: Host) -> EtcdOps:
    from wirework.lab.steps import lab_ops

    return cast(EtcdOps, lab_ops(host))


@register
@dataclass(frozen=True)
class StartEtcd(Step):
    kind = "lab_start_etcd"
    lab: str
    layout: str  # JSON of the cluster layout (etcd_members.EtcdCluster)

    def apply(self, host: Host) -> Sequence[Step]:
        _ops(host).etcd_start(self.layout)
        return [StopEtcd(json.loads(self.layout)["root"])]

    def crash_undo(self) -> Sequence[Step]:
        return [StopEtcd(json.loads(self.layout)["root"])]

    def describe(self) -> str:
        raw = json.loads(self.layout)
        where = f" in {raw['netns']}" if raw.get("netns") else ""
        return f"start etcd ({len(raw['members'])} member(s){where}) at {url_of(self.layout)}"

    def commands(self) -> list[str]:
        return [f"etcd --name {m['name']} ... &" for m in json.loads(self.layout)["members"]]


@register
@dataclass(frozen=True)
class StopEtcd(Step):
    kind = "lab_stop_etcd"
    root: str

    def apply(self, host: Host) -> Sequence[Step]:
        _ops(host).etcd_stop(self.root)
        return ()

    def describe(self) -> str:
        return f"stop the lab's etcd members ({self.root})"

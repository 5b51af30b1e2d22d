"""The public Python API, and the one place real adapters are built.

    import wirework
    ww = wirework.Wirework()                 # the real host; Wirework(netns="h1") for a lab host
    att = ww.attach("my-test1", "br0", ip="192.168.114.100/24", gateway="192.168.114.1")
    ww.detach("my-test1")

Every operation validates its input, plans, and runs the plan through the executor; with
`dry_run=True` it returns the plan instead of running it.
"""

from __future__ import annotations

import os
from typing import Any

from wirework.api_cluster import ClusterApi
from wirework.errors import InvalidInput
from wirework.guests.docker import DockerClient
from wirework.guests.resolve import resolve
from wirework.kernel.host import KernelHost
from wirework.model.guest import Guest
from wirework.model.specs import AttachSpec, validate_attach
from wirework.networks import attachments, records
from wirework.networks.attachments import AttachmentStatus, AttachResult, GuestReport
from wirework.networks.records import Attachment
from wirework.plan.executor import Executor, FaultHook, env_fault_hook, recover
from wirework.plan.steps import Plan, Step
from wirework.store import Store, open_store
from wirework.store.base import ClusterStore, Op

OVS_DB_ENV = "WIREWORK_OVS_DB"  # an ovsdb-server socket other than the system's


class Wirework(ClusterApi):
    """A session: adapters for one host namespace plus the state store, kept open."""

    def __init__(
        self,
        netns: str | None = None,
        *,
        state_dir: str | None = None,
        store: Store | None = None,
        docker_socket: str | None = None,
        ovs_db: str | None = None,
        fault: FaultHook | None = None,
        cluster_store: ClusterStore | None = None,
    ) -> None:
        self.netns = netns
        self._cluster_store = cluster_store
        self.host = KernelHost(netns, ovs_db=ovs_db or os.environ.get(OVS_DB_ENV) or None)
        self.host_id = records.host_id(netns)
        self.store = store or open_store(state_dir_path=state_dir)
        self.docker = DockerClient(docker_socket)
        self.fault = fault or env_fault_hook()
        self._recovered = False

    @property
    def cluster_store(self) -> ClusterStore:
        """The store every host shares (etcd); provisional until the etcd branch's selection lands."""
        if self._cluster_store is None:
            raise InvalidInput(what="shared store", value="", why="cluster networks need --store etcd://HOST:PORT")
        return self._cluster_store

    def cluster_configured(self) -> bool:
        return self._cluster_store is not None

    def refresh_environment(self) -> None:
        """Re-read per-request settings from the environment (the service's requests differ)."""
        self.fault = env_fault_hook()

    def close(self) -> None:
        self.host.close()
        self.store.close()

    def __enter__(self) -> Wirework:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------
    def _executor(self) -> Executor:
        if not self._recovered:
            self.recover()
        return Executor(self.host, self.store, self.fault)

    def run_plan(self, plan: Plan) -> list[Step]:
        """Run a plan built elsewhere (a lab host's setup item) through this host's executor."""
        return self._executor().run(plan)

    def recover(self) -> list[str]:
        """Undo operations that a crashed wirework process left half-done."""
        self._recovered = True
        done = recover(self.host, self.store)
        return done + attachments.release_stale_claims(self) + attachments.sweep_forward_rules(self)

    def resolve(self, guest: str) -> Guest:
        return resolve(guest, self.docker)

    # -- attach / detach -----------------------------------------------------------------
    def attach(self, guest: str, host_if: str = "", *, dry_run: bool = False, **options: Any) -> AttachResult:
        """Wire a guest to a bridge, OVS bridge or NIC (pipework's job). See validate_attach."""
        spec = validate_attach(guest, host_if, **options)
        return self.attach_spec(spec, dry_run=dry_run)

    def attach_spec(self, spec: AttachSpec, *, dry_run: bool = False) -> AttachResult:
        return attachments.attach_spec(self, spec, dry_run=dry_run)

    def detach(self, guest: str, ifname: str | None = None, *, dry_run: bool = False) -> list[Attachment]:
        """Undo attachments of a guest (all, or one interface). Detaching twice is fine."""
        return attachments.detach(self, guest, ifname, dry_run=dry_run)

    def plan_detach(self, guest: str, ifname: str | None = None) -> Plan:
        return attachments.plan_detach_guest(self, guest, ifname)

    def ls(self) -> list[AttachmentStatus]:
        return attachments.ls(self)

    def gc(self) -> list[Attachment]:
        """Tear down what is left of attachments whose guest is gone (OVS ports, records)."""
        return attachments.gc(self)

    def inspect(self, guest: str) -> GuestReport:
        return attachments.inspect(self, guest)

    def guest_command(self, what: str, guest: str, args: list[str], *, dry_run: bool = False) -> Plan:
        """pipework route/rule/tc: routes, rules and qdiscs inside a guest's namespace."""
        return attachments.guest_command(self, what, guest, args, dry_run=dry_run)

    # -- what wirework.networks' operations build on (networks.session.Session) --------------
    def _record(self, spec: AttachSpec, facts: Any, g: Guest, undo: list[Step]) -> Attachment:
        return attachments.make_record(self, spec, facts, g, undo)

    def _record_ops(self, att: Attachment) -> list[Op]:
        return attachments.record_ops(self, att)

    def _forget_ops(self, att: Attachment) -> list[Op]:
        return attachments.forget_ops(self, att)

    def _teardown(self, att: Attachment, current_ns: str | None) -> None:
        attachments.teardown(self, att, current_ns)

    def _stale_or_noop(self, att: Attachment | None, g: Guest, spec: AttachSpec) -> Attachment | None:
        return attachments.stale_or_noop(self, att, g, spec)

    def _host_records(self) -> list[Attachment]:
        return attachments.host_records(self)

    @staticmethod
    def _ns_id_now(att: Attachment) -> str | None:
        return attachments.ns_id_now(att)

    # -- Docker-style networks (issue 3; the logic lives in wirework.networks) -------------
    def network_create(self, name: str, *, force: bool = False, dry_run: bool = False, no_sysctl: bool = False,
                       pools: str | None = None, **options: Any) -> Any:
        """Create a network (bridge, subnet, NAT, isolation). See networks.network.validate_network."""
        from wirework.networks import netops
        from wirework.networks.network import validate_network

        spec = validate_network(name, **options)
        return netops.create(self, spec, force=force, dry_run=dry_run, no_sysctl=no_sysctl, pools=pools)

    def network_rm(self, name: str, *, force: bool = False) -> Any:
        from wirework.networks import connops, netops

        return netops.remove(self, name, force=force, detach=lambda ep: connops.drop_endpoint(self, ep))

    def network_ls(self) -> list[dict[str, Any]]:
        from wirework.networks import netops

        return netops.listing(self)

    def network_inspect(self, name: str) -> dict[str, Any]:
        from wirework.networks import netops

        return netops.inspect(self, name)

    def network_link(self, a: str, b: str, *, unlink: bool = False, dry_run: bool = False) -> Plan:
        from wirework.networks import netops

        return netops.link(self, a, b, unlink=unlink, dry_run=dry_run)

    def connect(self, network: str, guest: str, *, dry_run: bool = False, **options: Any) -> Any:
        """Connect a guest to a network (address from IPAM, ports, default route if asked)."""
        from wirework.networks import connops
        from wirework.networks.connect import validate_connect

        spec = validate_connect(network, guest, **options)
        return connops.connect(self, spec, dry_run=dry_run)

    def disconnect(self, network: str, guest: str) -> Any:
        from wirework.networks import connops

        return connops.disconnect(self, network, guest)

    def ports(self, guest: str) -> list[Any]:
        from wirework.networks import connops

        return connops.ports_of(self, guest)

    def run_guest(self, net: str, command: list[str], **options: Any) -> Any:
        """Start a command in a namespace of the given mode (wirework run). See networks.modes."""
        from wirework.networks import modes

        return modes.run(self, modes.validate_run(net, command, **options))

    def remove_guest(self, name: str) -> Any:
        from wirework.networks import modes

        return modes.remove(self, name)

    def up(self, *, no_sysctl: bool = False) -> Any:
        """Re-apply every network, link, connection and published port (after a reboot or flush)."""
        from wirework.networks import up

        return self.recover() + up.up(self, no_sysctl=no_sysctl)

    def doctor(self, *, root: str = "/") -> Any:
        from wirework.networks import doctor

        return doctor.diagnose(self, root=root)

    def check(self, *, lan: str | None = None, lan_addr: str | None = None, probe: bool = True) -> Any:
        from wirework.networks import check

        return check.matrix(self, lan=lan, lan_addr=lan_addr, probe=probe)

    # -- uplink (S9) and Open vSwitch tunnels (S10): wirework.networks.uplink*, .tunnel ------
    def uplink(self, bridge: str, nic: str, *, ovs: bool | None = None, check: str | None = None,
               confirm_within: float = 0.0, dry_run: bool = False, on_applied: Any = None) -> Any:
        """Move NIC's addresses and routes onto BRIDGE and enslave NIC; put back when `check`
        (default: the gateway) does not answer. confirm_within > 0 leaves it pending until
        `uplink_confirm` (a watchdog, started by `on_applied(record)`, reverts otherwise)."""
        from wirework.networks import uplink_state

        return uplink_state.session_uplink(self, bridge, nic, ovs=ovs, check=check, confirm_within=confirm_within,
                                           dry_run=dry_run, on_applied=on_applied)

    def uplink_confirm(self, bridge: str) -> dict[str, Any]:
        from wirework.networks import uplink_state

        return uplink_state.confirm(self.store, self.host_id, bridge)

    def uplink_undo(self, bridge: str, nic: str | None = None) -> bool:
        from wirework.networks import uplink_state

        return uplink_state.session_undo(self, bridge, nic)

    def uplink_watch(self, bridge: str, *, interval: float = 1.0) -> str:
        from wirework.networks import uplink_state

        return uplink_state.watch(self.host, self.store, self.host_id, bridge, interval=interval)

    def uplinks(self) -> list[dict[str, Any]]:
        from wirework.networks import uplink_state

        return uplink_state.records(self.store, self.host_id)

    def tunnel_add(self, bridge: str, remote: str, *, type_: str = "gre", key: int | None = None,
                   name: str | None = None, underlay_bridge: str | None = None, dry_run: bool = False) -> Any:
        """An OVS tunnel port to `remote` on BRIDGE, with the underlay and MTUs it needs."""
        from wirework.networks import tunnel

        return tunnel.add(self, tunnel.validate_tunnel(bridge, remote, type_=type_, key=key, name=name,
                                                       underlay_bridge=underlay_bridge), dry_run=dry_run)

    def tunnel_rm(self, bridge: str, remote_or_port: str, *, dry_run: bool = False) -> Any:
        from wirework.networks import tunnel

        return tunnel.remove(self, bridge, remote_or_port, dry_run=dry_run)

    def tunnel_ls(self) -> list[dict[str, Any]]:
        from wirework.networks import tunnel

        return tunnel.listing(self)




# -- module-level shortcuts: one default session on the real host ---------------------------
_default: Wirework | None = None


def _session() -> Wirework:
    global _default
    if _default is None:
        _default = Wirework()
    return _default


def attach(guest: str, host_if: str = "", **options: Any) -> AttachResult:
    """`wirework.attach("my-test1", "br0", ip="192.168.114.100/24")` on the real host."""
    return _session().attach(guest, host_if, **options)


def detach(guest: str, ifname: str | None = None) -> list[Attachment]:
    return _session().detach(guest, ifname)


def ls() -> list[AttachmentStatus]:
    return _session().ls()


def inspect(guest: str) -> GuestReport:
    return _session().inspect(guest)

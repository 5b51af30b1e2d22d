"""`Wirework`: one host's session, the facade every front (CLI, service, lab, Python) uses.

It builds the real adapters (a `KernelHost` for the namespace, the state store, the Docker
client), wraps them in a `context.HostContext`, and hands that context to the policy
packages; the operations of each package are methods here (`api.networks`, `api.uplinks`
hold the Docker-style network, uplink and tunnel ones).
"""

from __future__ import annotations

import os
from typing import Any

from wirework.api.docker import DockerAPI
from wirework.api.networks import NetworksAPI
from wirework.api.uplinks import UplinksAPI
from wirework.attachments import claims, listing, ops, records
from wirework.attachments.listing import AttachmentStatus, GuestReport
from wirework.attachments.ops import AttachResult
from wirework.attachments.records import Attachment
from wirework.context import HostContext, Sweep
from wirework.guests.docker import DockerClient
from wirework.guests.resolve import resolve
from wirework.kernel.host import KernelHost
from wirework.model.guest import Guest
from wirework.model.specs import AttachSpec, validate_attach
from wirework.plan.executor import FaultHook, env_fault_hook
from wirework.plan.steps import Plan, Step
from wirework.store import ClusterStore, Store, StoreConfig, open_cluster_store, open_stores

OVS_DB_ENV = "WIREWORK_OVS_DB"  # an ovsdb-server socket other than the system's
#: What recovery sweeps after undoing dead journals (policy packages' own leftovers).
RECOVERY_SWEEPS: tuple[Sweep, ...] = (claims.release_stale_claims, ops.sweep_forward_rules)


class Wirework(NetworksAPI, UplinksAPI, DockerAPI):
    """A session: adapters for one host namespace plus the state store, kept open."""

    def __init__(
        self,
        netns: str | None = None,
        *,
        state_dir: str | None = None,
        store: str | StoreConfig | Store | None = None,
        docker_socket: str | None = None,
        ovs_db: str | None = None,
        fault: FaultHook | None = None,
    ) -> None:
        """`store`: the shared store's URL or StoreConfig (`--store`; None: WIREWORK_STORE*, else
        `sqlite:`), or a store object (tests: a MemoryClusterStore serves as both stores).
        `self.store` is this host's own (journals, attachments: SQLite in the state dir);
        `self.cluster_store` the one the hosts share (etcd), opened on first use.
        """
        self.store_config, local, shared = open_stores(store, state_dir_path=state_dir)
        self.host = KernelHost(netns, ovs_db=ovs_db or os.environ.get(OVS_DB_ENV) or None)
        docker = DockerClient(docker_socket)
        self.context = HostContext(
            self.host, records.host_id(netns), local, docker,
            lambda guest: resolve(guest, docker), fault=fault or env_fault_hook(), sweeps=RECOVERY_SWEEPS,
            cluster_store=shared, open_cluster_store=lambda: open_cluster_store(self.store_config),
        )

    @property
    def host_id(self) -> str:
        return self.context.host_id

    @property
    def store(self) -> Store:
        return self.context.store

    @property
    def cluster_store(self) -> ClusterStore:
        """The store shared by every host (leases, watches); an error naming `--store` if none is set."""
        return self.context.cluster_store

    @property
    def docker(self) -> DockerClient:
        return self.context.docker

    def refresh_environment(self) -> None:
        """Re-read per-request settings from the environment (the service's requests differ)."""
        self.context.fault = env_fault_hook()

    def close(self) -> None:
        self.host.close()
        self.context.close_stores()

    def __enter__(self) -> Wirework:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run_plan(self, plan: Plan) -> list[Step]:
        """Run a plan built elsewhere (a lab host's setup item) through this host's executor."""
        return self.context.executor().run(plan)

    def recover(self) -> list[str]:
        """Undo operations that a crashed wirework process left half-done."""
        return self.context.recover()

    def resolve(self, guest: str) -> Guest:
        return self.context.resolve(guest)

    # -- attach / detach (wirework.attachments) ---------------------------------------------
    def attach(self, guest: str, host_if: str = "", *, dry_run: bool = False, **options: Any) -> AttachResult:
        """Wire a guest to a bridge, OVS bridge or NIC (pipework's job). See validate_attach."""
        spec = validate_attach(guest, host_if, **options)
        return self.attach_spec(spec, dry_run=dry_run)

    def attach_spec(self, spec: AttachSpec, *, dry_run: bool = False) -> AttachResult:
        return ops.attach_spec(self.context, spec, dry_run=dry_run)

    def detach(self, guest: str, ifname: str | None = None, *, dry_run: bool = False) -> list[Attachment]:
        """Undo attachments of a guest (all, or one interface). Detaching twice is fine."""
        return ops.detach(self.context, guest, ifname, dry_run=dry_run)

    def plan_detach(self, guest: str, ifname: str | None = None) -> Plan:
        return ops.plan_detach_guest(self.context, guest, ifname)

    def ls(self) -> list[AttachmentStatus]:
        return listing.ls(self.context)

    def gc(self) -> list[Attachment]:
        """Tear down what is left of attachments whose guest is gone (OVS ports, records)."""
        return listing.gc(self.context)

    def renew_leases(self, *, now: float | None = None) -> list[str]:
        """Renew the DHCP leases of this host's attachments that are past half their time (the
        resident service calls this every few seconds); a line per lease it renewed or could not."""
        from wirework.attachments import leases

        return leases.renew_leases(self.context, now=now)

    def inspect(self, guest: str) -> GuestReport:
        return listing.inspect(self.context, guest)

    def guest_command(self, what: str, guest: str, args: list[str], *, dry_run: bool = False) -> Plan:
        """pipework route/rule/tc: routes, rules and qdiscs inside a guest's namespace."""
        return ops.guest_command(self.context, what, guest, args, dry_run=dry_run)

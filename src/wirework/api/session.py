"""`Wirework`: one host's session, the facade every front (CLI, service, lab, Python) uses.

It builds the real adapters (a `KernelHost` for the namespace, the state store, the Docker
client), wraps them in a `context.HostContext`, and hands that context to the policy
packages; the operations of each package are methods here (`api.networks`, `api.uplinks`
hold the Docker-style network, uplink and tunnel ones).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from wirework.api.cluster import ClusterAPI
from wirework.api.docker import DockerAPI
from wirework.api.networks import NetworksAPI
from wirework.api.uplinks import UplinksAPI
from wirework.attachments import claims, listing, ops, records
from wirework.attachments.listing import AttachmentStatus, GuestReport
from wirework.attachments.ops import AttachResult
from wirework.attachments.records import Attachment
from wirework.context import HostContext, Sweep
from wirework.errors import GuestNotFound, NotFound, did_you_mean
from wirework.guests.docker import DockerClient
from wirework.guests.resolve import resolve
from wirework.kernel.host import KernelHost
from wirework.model.guest import Guest
from wirework.model.specs import AttachSpec, validate_attach
from wirework.plan.commands import plan_commands
from wirework.plan.executor import FaultHook, env_fault_hook
from wirework.plan.steps import Plan, Step
from wirework.store import ClusterStore, Store, StoreConfig, open_cluster_store, open_stores, store_config
from wirework.store import state_dir as state_dir_of

if TYPE_CHECKING:
    from wirework.networks.gc import GcReport

OVS_DB_ENV = "WIREWORK_OVS_DB"  # an ovsdb-server socket other than the system's
#: What recovery sweeps after undoing dead journals (policy packages' own leftovers).
RECOVERY_SWEEPS: tuple[Sweep, ...] = (claims.release_stale_claims, ops.sweep_forward_rules)


class Wirework(NetworksAPI, UplinksAPI, ClusterAPI, DockerAPI):
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
        env: Mapping[str, str] | None = None,
        cluster_store: ClusterStore | None = None,
    ) -> None:
        """`store`: the shared store's URL or StoreConfig (`--store`; None: WIREWORK_STORE*, else
        `sqlite:`), or a store object (tests: a MemoryClusterStore serves as both stores).
        `self.store` is this host's own (journals, attachments: SQLite in the state dir);
        `self.cluster_store` the one the hosts share (etcd), opened on first use.
        `env`: where settings not given here are read (WIREWORK_STATE_DIR, WIREWORK_STORE*,
        WIREWORK_OVS_DB, WIREWORK_ADDRESS_POOLS, DOCKER_HOST, WIREWORK_FAIL_AT); None: this
        process's environment. The service passes each request's (`refresh_environment`).
        `cluster_store`: a shared store object for this host's cluster operations while its own
        records stay in its SQLite store (tests with several hosts on one in-memory store).
        """
        self.env: Mapping[str, str] = os.environ if env is None else env
        self._docker_socket = docker_socket
        self._fault = fault
        if store is None:
            store = store_config(env=self.env)
        self.store_config, local, shared = open_stores(store, state_dir_path=state_dir_of(state_dir, env=self.env))
        self.netns = netns
        if cluster_store is not None:
            self.store_config, shared = StoreConfig(url="memory:"), cluster_store
        self.host = KernelHost(netns, ovs_db=ovs_db or self.env.get(OVS_DB_ENV) or None)
        self.context = HostContext(
            self.host, records.host_id(netns), local, DockerClient(docker_socket, env=self.env),
            self._resolve_guest, fault=fault or env_fault_hook(self.env), sweeps=RECOVERY_SWEEPS,
            cluster_store=shared, open_cluster_store=lambda: open_cluster_store(self.store_config),
        )

    def _resolve_guest(self, ref: str) -> Guest:
        try:
            return resolve(ref, self.context.docker)
        except GuestNotFound as exc:
            from wirework.api.names import guest_names  # the error path only: it reads networks' records

            hint = did_you_mean(ref.split(":", 1)[-1], guest_names(self.context))
            if not hint:
                raise
            raise GuestNotFound(f"{exc}{hint}") from None

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

    def refresh_environment(self, env: Mapping[str, str] | None = None) -> None:
        """Take per-request settings from `env` (None: this process's environment): the service
        keeps a session open across requests, and each request brings its own Docker host,
        address pools and fault injection."""
        self.env = os.environ if env is None else env
        self.context.docker = DockerClient(self._docker_socket, env=self.env)
        self.context.fault = self._fault or env_fault_hook(self.env)

    def refresh_caches(self) -> None:
        """Read again what the host's adapters cache (the service does it while the host is in use)."""
        self.host.refresh_caches()

    def cluster_configured(self) -> bool:
        """Whether a shared store was named (`--store etcd://...`, WIREWORK_STORE, or an object)."""
        return self.store_config.scheme in ("etcd", "etcds", "memory")

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

    def commands(self, plan: Plan) -> list[str]:
        """The plan as shell commands that run where its steps run (this host's namespace and
        Open vSwitch database; guests' namespaces by name, or by PID for containers)."""
        return plan_commands(plan, self.host.netns, self.host.ovs_db)

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
        """Undo attachments of a guest (all, or one interface). Detaching twice is fine.
        A guest's network connections are left to `disconnect` (they hold ports and leases).
        Nothing here but attachments of that guest on another host (--netns) is an error naming it."""
        done = ops.detach(self.context, guest, ifname, dry_run=dry_run, keep=self._connection_of)
        if not done:
            self._not_here(guest)
        return done

    def _not_here(self, guest: str) -> None:
        elsewhere = sorted({a.host for a in records.all_for_host(self.store)
                            if a.host != self.host_id and guest in (a.guest.ref, a.guest.name, a.guest.key)})
        if elsewhere:
            where = " or ".join("the machine itself" if h == "-" else f"--netns {h}" for h in elsewhere)
            first = "" if elsewhere[0] == "-" else f" --netns {elsewhere[0]}"
            raise NotFound(f"{guest} has no attachments on this host; it has on {where}: "
                           f"'wirework detach {guest}{first}'")

    def plan_detach(self, guest: str, ifname: str | None = None) -> Plan:
        return ops.plan_detach_guest(self.context, guest, ifname, keep=self._connection_of)

    def _connection_of(self, att: Attachment) -> str | None:
        """'wirework disconnect NET GUEST' when `att` is the veth of a network connection."""
        from wirework.networks import endpoints

        for ep in endpoints.of_guest(self.store, self.host_id, att.guest.key):
            if ep.att_id == att.id:
                netns = f" --netns {self.host.netns}" if self.host.netns else ""
                return f"'wirework disconnect {ep.network} {att.guest.name}{netns}'"
        return None

    def ls(self) -> list[AttachmentStatus]:
        return listing.ls(self.context)

    def gc(self, *, dry_run: bool = False) -> GcReport:
        """Clean up after guests that are gone: their network connections (published ports,
        leases, endpoints) and attachments (host ends, OVS ports, records)."""
        from wirework.networks import gc

        return gc.gc(self.context, dry_run=dry_run)

    def renew_leases(self, *, now: float | None = None) -> list[str]:
        """Renew the DHCP leases of this host's attachments that are past half their time (the
        resident service calls this every few seconds); a line per lease it renewed or could not."""
        from wirework.attachments import leases

        return leases.renew_leases(self.context, now=now)

    def leases_held(self) -> int:
        """How many DHCP leases of live guests this host holds (the service stays up to renew them)."""
        from wirework.attachments import leases

        return leases.held(self.context)

    def inspect(self, guest: str) -> GuestReport:
        """A guest's interfaces and routes, what wirework made, and its network mode and
        connections as `ps` and `network inspect` show them."""
        from wirework.networks import endpoints, modes

        report = listing.inspect(self.context, guest)
        eps = endpoints.of_guest(self.store, self.host_id, report.guest.key)
        run = modes.load(self.context, report.guest.name) if report.guest.kind == "netns" else None
        main = next((e for e in eps if e.default_route), eps[0] if eps else None)
        mode = run.mode if run is not None else (main.mode or main.network) if main is not None else report.mode
        nets = [{"network": e.network, "ifname": e.ifname, "ip": e.ip, "default_route": e.default_route,
                 "ports": [p for p in e.ports]} for e in eps]
        return replace(report, mode=mode, networks=nets)

    def guest_command(self, what: str, guest: str, args: list[str], *, dry_run: bool = False) -> Plan:
        """pipework route/rule/tc: routes, rules and qdiscs inside a guest's namespace."""
        return ops.guest_command(self.context, what, guest, args, dry_run=dry_run)

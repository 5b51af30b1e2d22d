"""One host as policy code sees it: adapters, store, guests, and an executor that recovers first.

`wirework.api.Wirework` builds a `HostContext` (the API layer is the one place real adapters
are made) and hands it to the policy packages (`attachments`, `networks`, `uplink`, `tunnels`,
`diagnostics`, ...), which take the context and never the facade. Recovery runs before a
change whenever it is due: on the first change of a session, and whenever this host's journals
(`ops/<host>/`, one indexed read) include one of a dead operation, so a long-lived session (the
resident service) also recovers what local commands killed after it started. It undoes those
journals (`plan.executor.recover`), then runs each sweep the API layer passed in (address claims
of crashed attaches, FORWARD accepts of vanished bridges). The context sits below policy, so it
knows those sweeps only as callables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from wirework.errors import InvalidInput
from wirework.guests.docker import DockerClient
from wirework.model.guest import Guest
from wirework.model.host import Host
from wirework.plan.executor import Executor, FaultHook, recover
from wirework.plan.journal import dead_journal_waits
from wirework.store.base import ClusterStore, Store

#: Opens the shared store on first use (or says why there is none).
StoreOpener = Callable[[], ClusterStore]

#: Turns a user's guest reference (`docker:NAME`, `pid:N`, a netns name or path) into a Guest.
Resolver = Callable[[str], Guest]
#: A recovery sweep of a policy package: what it cleaned up, one line each.
Sweep = Callable[["HostContext"], list[str]]


class HostContext:
    """Host adapters bound to one network namespace, its state stores (`store`: this host's own;
    `cluster_store`: the one the hosts share), and guest lookup."""

    def __init__(
        self,
        host: Host,
        host_id: str,
        store: Store,
        docker: DockerClient,
        resolver: Resolver,
        *,
        fault: FaultHook | None = None,
        sweeps: Sequence[Sweep] = (),
        cluster_store: ClusterStore | None = None,
        open_cluster_store: StoreOpener | None = None,
    ) -> None:
        self.host = host
        self.host_id = host_id
        self.store = store
        self._cluster_store = cluster_store
        self._open_cluster_store = open_cluster_store
        self.docker = docker
        self.fault = fault
        self.recovered = False
        self._resolver = resolver
        self._sweeps = tuple(sweeps)

    @property
    def cluster_store(self) -> ClusterStore:
        """The store every host shares (etcd: leases, compare-and-swap, watches), opened on first
        use; this host's own records stay in `store`. An error naming `--store` when none is set."""
        if self._cluster_store is None:
            if self._open_cluster_store is None:
                raise InvalidInput(what="store", value="", why="this needs a store shared by the hosts: "
                                   "--store etcd://HOST:PORT[,...] (or WIREWORK_STORE)")
            self._cluster_store = self._open_cluster_store()
        return self._cluster_store

    def close_stores(self) -> None:
        self.store.close()
        if self._cluster_store is not None and self._cluster_store is not self.store:
            self._cluster_store.close()

    def resolve(self, guest: str) -> Guest:
        return self._resolver(guest)

    def executor(self) -> Executor:
        """The executor for a change; recovery runs first when it is due."""
        self.ensure_recovered()
        return Executor(self.host, self.store, self.fault, self.host_id)

    def ensure_recovered(self) -> None:
        """Recover when due (see the module docstring). Operations call it before they probe,
        so that they plan against the host as recovery leaves it, not as a crash left it."""
        if not self.recovered or dead_journal_waits(self.store, self.host_id):
            self.recover()

    def before_change(self, dry_run: bool = False) -> None:
        """What every changing operation calls first (nothing for a dry run)."""
        if not dry_run:
            self.ensure_recovered()

    def recover(self) -> list[str]:
        """Undo operations that a crashed wirework process left half-done."""
        self.recovered = True
        done = recover(self.host, self.store)
        for sweep in self._sweeps:
            done += sweep(self)
        return done

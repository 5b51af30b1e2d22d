"""One host as policy code sees it: adapters, store, guests, and an executor that recovers first.

`wirework.api.Wirework` builds a `HostContext` (the API layer is the one place real adapters
are made) and hands it to the policy packages (`attachments`, `networks`, `uplink`, `tunnels`,
`diagnostics`, ...), which take the context and never the facade. Recovery runs before the
first change of a session: `plan.executor.recover` undoes the journals of dead processes, then
each sweep the API layer passed in runs (address claims of crashed attaches, FORWARD accepts of
vanished bridges). The context sits below policy, so it knows those sweeps only as callables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from wirework.guests.docker import DockerClient
from wirework.model.guest import Guest
from wirework.model.host import Host
from wirework.plan.executor import Executor, FaultHook, recover
from wirework.store.base import Store

#: Turns a user's guest reference (`docker:NAME`, `pid:N`, a netns name or path) into a Guest.
Resolver = Callable[[str], Guest]
#: A recovery sweep of a policy package: what it cleaned up, one line each.
Sweep = Callable[["HostContext"], list[str]]


class HostContext:
    """Host adapters bound to one network namespace, its state store, and guest lookup."""

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
    ) -> None:
        self.host = host
        self.host_id = host_id
        self.store = store
        self.docker = docker
        self.fault = fault
        self.recovered = False
        self._resolver = resolver
        self._sweeps = tuple(sweeps)

    def resolve(self, guest: str) -> Guest:
        return self._resolver(guest)

    def executor(self) -> Executor:
        """The executor for a change; recovery runs first, once per context."""
        self.ensure_recovered()
        return Executor(self.host, self.store, self.fault)

    def ensure_recovered(self) -> None:
        """Recover now unless done: probing must see the host as a crashed run left it."""
        if not self.recovered:
            self.recover()

    def recover(self) -> list[str]:
        """Undo operations that a crashed wirework process left half-done."""
        self.recovered = True
        done = recover(self.host, self.store)
        for sweep in self._sweeps:
            done += sweep(self)
        return done

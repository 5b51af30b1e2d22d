"""The agent of one host: lease, claims, watch, convergence — driven by `start`/`step`/`stop`.

`wirework agent` loops on `step()`; the resident service can drive the same object. One lease
(TTL `lease_ttl`, renewed every third of it) carries the host record and every subnet the host
holds, so a dead host's claims vanish by themselves. The view of the cluster is read once at
revision R and kept current by a watch from R+1; each event marks its network dirty, and
`step` converges dirty networks through `cluster.converge`. Losing the store never touches the
kernel: forwarding goes on, and when the store answers again everything is re-read.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from wirework.cluster import keys, leases
from wirework.cluster.dataplane.vxlan import vtep_mac
from wirework.cluster.local import Memory
from wirework.cluster.model import ClusterNetwork, HostRecord, HostSubnet
from wirework.cluster.sync import Converger
from wirework.context import HostContext
from wirework.errors import StoreCompacted, StoreUnavailable, WireworkError
from wirework.store.base import ClusterStore, Event, Watch

Log = Callable[[str], None]
#: How often the agent probes the kernel afresh instead of planning from what it knows it made.
REPROBE_EVERY = 60.0


@dataclass(frozen=True)
class AgentConfig:
    host_id: str
    public_ip: str
    lease_ttl: float = 10.0
    networks: tuple[str, ...] = ()  # empty: every cluster network


class Agent:
    def __init__(self, ctx: HostContext, cluster: ClusterStore, config: AgentConfig, *,
                 log: Log | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.ctx, self.store, self.config = ctx, cluster, config
        self.log: Log = log or (lambda text: None)
        self.clock = clock
        self.memory = Memory(ctx.store, ctx.host_id)
        self.lease = 0
        self.nets: dict[str, ClusterNetwork] = {}
        self.records: dict[str, dict[str, HostSubnet]] = {}  # network -> subnet -> record
        self.mine: dict[str, HostSubnet] = {}
        self.watch: Watch | None = None
        self.next_renew = 0.0
        self.store_ok = True
        self.joined_in = 0.0
        self.renewed_at = 0.0  # monotonic time the lease was last known renewed
        self.sync = Converger(self)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Join: lease, host record, a subnet per network, first convergence, then the watch.

        A fresh start that fails anywhere revokes its lease: the store holds nothing of it and
        the host was not touched (convergence comes after every claim succeeded) — except that
        guests on a subnet another host holds by now are disconnected, whatever happens."""
        began = time.monotonic()
        self.lease, resumed = self._resume_or_grant()
        try:
            leases.claim_host(self.store, self._host_record(), self.config.lease_ttl)
            revision = self._read_all()
            self.sync.drop_taken()
            for name in self._wanted(self.nets):
                try:
                    self._join(name)
                except WireworkError as exc:
                    if not resumed:
                        raise
                    self.sync.problem(name, str(exc))
        except BaseException:
            if not resumed:
                self._revoke_quietly()
            raise
        self.memory.remember_agent(self.lease, self.config.host_id, self.config.lease_ttl)
        self.renewed_at = self.clock()
        self.next_renew = self.renewed_at + self.config.lease_ttl / 3
        self.sync.mark(set(self.nets) | set(self.sync.materialised()))
        self.sync.converge_dirty()
        self.watch = self.store.watch(keys.ROOT, revision + 1)
        self.joined_in = time.monotonic() - began
        self.log(f"agent {self.config.host_id} ({self.config.public_ip}) joined in {self.joined_in * 1000:.0f} ms: "
                 + (", ".join(f"{n} {r.subnet}" for n, r in sorted(self.mine.items())) or "no cluster network yet"))

    def step(self, timeout: float = 1.0) -> None:
        """Wait up to `timeout` for changes, renew the lease when due, converge what changed."""
        if self.watch is None and not self._resync():
            time.sleep(min(timeout, 1.0))
            return
        wait = max(0.0, min(timeout, self.next_renew - self.clock()))
        try:
            assert self.watch is not None
            for event in self.watch.next(wait):
                self._apply(event)
        except (StoreCompacted, StoreUnavailable) as exc:
            self._lost_store(exc)
        if time.monotonic() - self.sync.probed_at >= REPROBE_EVERY:
            self.sync.reprobe()
        if self.clock() >= self.next_renew:
            try:
                self._renew()
            except WireworkError as exc:  # e.g. this host's id taken meanwhile: say so, try again
                self.log(f"cannot renew this host's claims: {exc}")
                self.next_renew = self.clock() + 1.0
        self.sync.converge_dirty()

    def stop(self, *, leave: bool = False) -> None:
        """Stop watching. The kernel stays as it is and the lease runs out by itself, unless
        `leave`: then every network is left here and the host's records are removed now."""
        if self.watch is not None:
            self.watch.cancel()
            self.watch = None
        if leave:
            for name in sorted(set(self.mine) | set(self.sync.materialised())):
                self.sync.leave(name)
            self._revoke_quietly()
            self.memory.forget_agent()

    def preview(self) -> dict[str, object]:
        """What `start` would do, read-only (--dry-run): this host, and per network the subnet it
        holds, or the one it would ask for (another host may take it first)."""
        self._read_all()
        rows = []
        for name in self._wanted(self.nets):
            held = next((r.subnet for r in self.records.get(name, {}).values() if r.host == self.config.host_id), None)
            taken = set(self.records.get(name, {}))
            remembered = (self.memory.subnet(name) or {}).get("subnet")
            rows.append({"network": name, "subnet": held or leases.next_free(self.nets[name], taken,
                                                                              self.config.host_id, remembered),
                         "held": held is not None})
        return {"host": self.config.host_id, "public_ip": self.config.public_ip, "lease_ttl": self.config.lease_ttl,
                "networks": rows}

    # -- the lease ---------------------------------------------------------------------------
    def _resume_or_grant(self) -> tuple[int, bool]:
        remembered = self.memory.agent()
        if remembered and remembered.get("host") == self.config.host_id and self.store.refresh(int(remembered["lease"])):
            return int(remembered["lease"]), True
        return self.store.grant(self.config.lease_ttl), False

    def _renew(self) -> None:
        try:
            alive = self.store.refresh(self.lease)
        except StoreUnavailable as exc:
            self._lost_store(exc)
            self.next_renew = self.clock() + min(1.0, self.config.lease_ttl / 3)
            return
        self.renewed_at = self.clock()
        self.next_renew = self.renewed_at + self.config.lease_ttl / 3
        if not alive:
            self.log(f"lease {self.lease} expired (the store was out of reach for longer than "
                     f"{self.config.lease_ttl:g} s): claiming this host's subnets again")
            self._regrant()

    def _regrant(self) -> None:
        self.lease = self.store.grant(self.config.lease_ttl)
        leases.claim_host(self.store, self._host_record(), self.config.lease_ttl)
        self.memory.remember_agent(self.lease, self.config.host_id, self.config.lease_ttl)
        held, self.mine = dict(self.mine), {}
        for name in held:
            self.sync.mark({name})

    def _revoke_quietly(self) -> None:
        try:
            self.store.revoke(self.lease)
        except StoreUnavailable:
            pass

    def _host_record(self) -> HostRecord:
        return HostRecord(self.config.host_id, self.config.public_ip, self.lease, socket.gethostname())

    # -- the view ------------------------------------------------------------------------------
    def _wanted(self, names: Iterable[str]) -> list[str]:
        return sorted(n for n in names if not self.config.networks or n in self.config.networks)

    def _read_all(self) -> int:
        """Everything under cluster/, read after noting the revision (the watch starts after it;
        an event seen twice is harmless: convergence works from the whole view)."""
        revision = self.store.revision()
        self.nets = {e.key[len(keys.NETS):]: ClusterNetwork.from_dict(e.value) for e in self.store.scan(keys.NETS)}
        self.records = {}
        for entry in self.store.scan(keys.SUBNETS):
            rec = HostSubnet.from_dict(entry.value)
            self.records.setdefault(rec.network, {})[rec.subnet] = rec
        return revision

    def _resync(self) -> bool:
        """After losing the store: re-read everything, renew (or re-grant) the lease, re-watch."""
        try:
            revision = self._read_all()
            self.watch = self.store.watch(keys.ROOT, revision + 1)
            self._renew()
        except StoreUnavailable:
            self.watch = None
            return False
        if not self.store_ok:
            self.log("the cluster store answers again: re-read everything")
        self.store_ok = True
        self.sync.reprobe()
        self.sync.mark(set(self.sync.materialised()))
        return True

    def _lost_store(self, exc: Exception) -> None:
        if self.store_ok:
            self.log(f"lost the cluster store ({exc}); the host keeps forwarding as it is")
        self.store_ok = False
        if self.watch is not None:
            self.watch.cancel()
        self.watch = None

    def _apply(self, event: Event) -> None:
        if event.key.startswith(keys.NETS):
            name = event.key[len(keys.NETS):]
            if event.deleted:
                self.nets.pop(name, None)
            else:
                self.nets[name] = ClusterNetwork.from_dict(event.value)
            self.sync.mark({name})
        elif event.key.startswith(keys.SUBNETS):
            name = keys.network_of_subnet_key(event.key)
            subnet = event.key.rsplit("/", 1)[1].replace("-", "/")
            if event.deleted:
                self.records.get(name, {}).pop(subnet, None)
            else:
                self.records.setdefault(name, {})[subnet] = HostSubnet.from_dict(event.value)
            self.sync.mark({name})

    # -- joining a network ---------------------------------------------------------------------
    def _join(self, name: str) -> HostSubnet:
        held = self.mine.get(name)
        remembered = self.memory.subnet(name) or {}
        preferred = held.subnet if held else remembered.get("subnet")
        net = self.nets[name]
        rec = leases.claim_subnet(self.store, name, self.config.host_id, self.config.public_ip, self.lease,
                                  vtep_mac=vtep_mac(self.config.host_id, name) if net.driver == "vxlan" else "",
                                  preferred=preferred, since=remembered.get("since") if preferred else None)
        self.mine[name] = rec
        self.records.setdefault(name, {})[rec.subnet] = rec
        self.memory.remember_subnet(name, rec.subnet, rec.since)
        if preferred and preferred != rec.subnet:
            self.log(f"network {name}: subnet {preferred} was taken by another host meanwhile; now {rec.subnet}")
        return rec

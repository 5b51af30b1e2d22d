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
from dataclasses import dataclass, field, replace
from typing import Any

from wirework.drivers.routes import DelAddress, DelRoute
from wirework.errors import Conflict, GuestNotFound, GuestNotRunning, ServiceError, StepFailed, WireworkError
from wirework.guests.docker import DockerClient
from wirework.guests.resolve import resolve
from wirework.kernel.host import KernelHost
from wirework.kernel.netns import netns_id
from wirework.model.guest import Guest
from wirework.model.specs import AttachSpec, validate_attach
from wirework.naming import attachment_id, guest_mac, host_veth_name
from wirework.networks import records
from wirework.networks.attach import (
    bridge_prunable,
    check_attach,
    host_if_by_mac,
    plan_attach,
    plan_detach,
    probe_attach,
)
from wirework.networks.guestcmd import plan_guest_command
from wirework.networks.records import Attachment
from wirework.plan.executor import OPS_PREFIX, Executor, FaultHook, env_fault_hook, recover, run_best_effort
from wirework.plan.steps import Plan, Step
from wirework.store import Store, open_store
from wirework.store.base import Compare, Delete, Op, Put

OVS_DB_ENV = "WIREWORK_OVS_DB"  # an ovsdb-server socket other than the system's


@dataclass(frozen=True)
class AttachResult:
    attachment: Attachment
    changed: bool
    plan: Plan


@dataclass(frozen=True)
class AttachmentStatus:
    attachment: Attachment
    state: str  # "ok", "guest-gone", "link-missing"


@dataclass(frozen=True)
class GuestReport:
    guest: Guest
    links: list[dict[str, Any]]
    routes: list[dict[str, Any]]
    attachments: list[Attachment] = field(default_factory=list)


class Wirework:
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
    ) -> None:
        self.host = KernelHost(netns, ovs_db=ovs_db or os.environ.get(OVS_DB_ENV) or None)
        self.host_id = records.host_id(netns)
        self.store = store or open_store(state_dir_path=state_dir)
        self.docker = DockerClient(docker_socket)
        self.fault = fault or env_fault_hook()
        self._recovered = False

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
        return done + self._release_stale_claims()

    def _release_stale_claims(self) -> list[str]:
        """Address claims made by attaches that crashed before writing their record."""
        out = []
        for entry in self.store.scan(f"ip/{self.host_id}/"):
            holder = str(entry.value)
            stale = records.load(self.store, self.host_id, holder) is None and not self._op_running(holder)
            if stale and self.store.txn([Compare(entry.key, entry.revision)], [Delete(entry.key)]):
                out.append(f"released the claim on {entry.key.rsplit('/', 1)[1]} of an interrupted attach")
        return out

    def resolve(self, guest: str) -> Guest:
        return resolve(guest, self.docker)

    # -- attach / detach -----------------------------------------------------------------
    def attach(self, guest: str, host_if: str = "", *, dry_run: bool = False, **options: Any) -> AttachResult:
        """Wire a guest to a bridge, OVS bridge or NIC (pipework's job). See validate_attach."""
        spec = validate_attach(guest, host_if, **options)
        return self.attach_spec(spec, dry_run=dry_run)

    def attach_spec(self, spec: AttachSpec, *, dry_run: bool = False) -> AttachResult:
        if not dry_run and not self._recovered:
            self.recover()  # first, so that probing sees the host as a crashed run left it
        spec = self._resolve_host_mac(spec)
        g = self.resolve(spec.guest)
        att_id = attachment_id(g.key, spec.cont_ifname)
        existing = records.load(self.store, self.host_id, att_id)
        stale = self._stale_or_noop(existing, g, spec)
        if existing is not None and stale is None:
            return AttachResult(existing, False, Plan("attach", existing.owner, ()))
        facts = probe_attach(self.host, spec, g, None, self._used_ips(spec, att_id), host_ns_id=self._host_ns_id())
        check_attach(spec, facts)
        plan = plan_attach(spec, facts)
        if stale is not None:
            # The guest restarted (new namespace) or its interface was removed by hand: clear
            # the host-side leftovers (an OVS port, say) before wiring it again.
            plan = replace(plan_detach(stale, None, 1), operation="attach") + plan
        if dry_run:
            return AttachResult(self._record(spec, facts, g, []), True, plan)
        reserved = self._reserve_ip(spec, att_id)
        holder: list[Attachment] = []

        def commit(undo: list[Step]) -> list[Op]:
            holder.append(self._record(spec, facts, g, undo))
            return (self._forget_ops(stale) if stale else []) + self._record_ops(holder[0])

        try:
            self._executor().run(plan, commit)
        except BaseException:
            if reserved:
                self._release_ip(spec, att_id)
            raise
        return AttachResult(holder[0], True, plan)

    def _resolve_host_mac(self, spec: AttachSpec) -> AttachSpec:
        """pipework's mac:<host-mac>: name the interface now, so every check sees the real one."""
        if spec.host_mac is None or spec.host_if:
            return spec
        return replace(spec, host_if=host_if_by_mac(self.host, spec.host_mac))

    def _host_ns_id(self) -> str:
        return netns_id(self.host.netns_path or "/proc/self/ns/net")

    def _stale_or_noop(self, att: Attachment | None, g: Guest, spec: AttachSpec) -> Attachment | None:
        """None when `att` is live and identical (a no-op); `att` when it is stale; else refuse."""
        if att is None:
            return None
        alive = att.guest.netns_id == g.netns_id and self.host.net.link(spec.cont_ifname, g.netns_path) is not None
        if not alive:
            return att
        if att.spec.same_wiring(spec):
            return None
        raise Conflict(f"{spec.cont_ifname} of guest {g.name!r} is already wired to {att.host_if} "
                       f"({att.cidr or 'dhcp'}); run 'wirework detach {spec.guest} -i {spec.cont_ifname}' first")

    def _used_ips(self, spec: AttachSpec, att_id: str) -> list[Attachment]:
        """Who holds the requested address on that host interface (not this very attachment)."""
        if not spec.cidr:
            return []
        entry = self.store.get(_ip_key(self.host_id, spec.host_if, spec.cidr.split("/")[0]))
        if entry is None or entry.value == att_id:
            return []
        att = records.load(self.store, self.host_id, str(entry.value))
        return [att] if att is not None else []

    def _reserve_ip(self, spec: AttachSpec, att_id: str) -> bool:
        """Claim the address on its host interface before wiring (create-if-absent), so two
        concurrent attaches cannot both take it. False when this attachment already held it."""
        if not spec.cidr:
            return False
        ip = spec.cidr.split("/")[0]
        key = _ip_key(self.host_id, spec.host_if, ip)
        for _ in range(5):
            if self.store.create(key, att_id):
                return True
            entry = self.store.get(key)
            if entry is None:
                continue
            if entry.value == att_id:
                return False
            holder = str(entry.value)
            if records.load(self.store, self.host_id, holder) is not None or self._op_running(holder):
                raise Conflict(f"address {ip} is already used on {spec.host_if} by another guest; pick another")
            if self.store.txn([Compare(key, entry.revision)], [Put(key, att_id)]):
                return True  # a claim left by a crashed run: taken over
        raise Conflict(f"address {ip} on {spec.host_if} is contended; try again")

    def _release_ip(self, spec: AttachSpec, att_id: str) -> None:
        assert spec.cidr is not None
        key = _ip_key(self.host_id, spec.host_if, spec.cidr.split("/")[0])
        entry = self.store.get(key)
        if entry is not None and entry.value == att_id:
            self.store.txn([Compare(key, entry.revision)], [Delete(key)])

    def _op_running(self, att_id: str) -> bool:
        return any(e.value.get("plan", {}).get("owner", "").startswith(f"att:{att_id}") for e in self.store.scan(OPS_PREFIX))

    def _record(self, spec: AttachSpec, facts: Any, g: Guest, undo: list[Step]) -> Attachment:
        cidr, gateway = spec.cidr, spec.gateway
        for step in undo:  # a DHCP lease shows up as the address and route it added
            if isinstance(step, DelAddress) and step.ifname == spec.cont_ifname:
                cidr = step.cidr
            if isinstance(step, DelRoute) and step.route.dst == "default":
                gateway = step.route.gateway or gateway
        kind = {"new-bridge": "bridge", "new-ovs": "ovs", "physical": "macvlan"}.get(facts.host_kind, facts.host_kind)
        kind = "direct" if spec.direct else kind

        return Attachment(
            id=facts.att_id, host=self.host_id, guest=g, spec=spec, host_if=facts.host_if, host_kind=kind,
            host_ifname="" if kind in ("macvlan", "direct") else (spec.host_ifname or host_veth_name(facts.att_id)),
            cont_ifname=spec.cont_ifname, cidr=cidr, gateway=gateway,
            mac=self._guest_mac(spec, facts), undo=tuple(s.to_dict() for s in undo),
            nonce=getattr(facts, "nonce", ""),
        )

    @staticmethod
    def _guest_mac(spec: AttachSpec, facts: Any) -> str:
        if spec.direct and facts.host_link is not None:
            return str(facts.host_link.mac)  # the NIC keeps its own
        return spec.mac or guest_mac(facts.att_id)

    def _record_ops(self, att: Attachment) -> list[Op]:
        ops: list[Op] = [records.put_op(att)]
        if att.cidr:
            ops.append(Put(_ip_key(att.host, att.host_if, att.cidr.split("/")[0]), att.id))
        return ops

    def detach(self, guest: str, ifname: str | None = None, *, dry_run: bool = False) -> list[Attachment]:
        """Undo attachments of a guest (all, or one interface). Detaching twice is fine."""
        if not dry_run and not self._recovered:
            self.recover()
        current_ns: str | None
        try:
            g = self.resolve(guest)
            current_ns = g.netns_id
            matches = [a for a in self._host_records() if a.guest.key == g.key]
        except (GuestNotFound, GuestNotRunning, ServiceError):
            current_ns = None  # the guest is gone: only host-side leftovers remain
            matches = [a for a in self._host_records() if guest in (a.guest.ref, a.guest.name, a.guest.key)]
        if ifname:
            matches = [a for a in matches if a.cont_ifname == ifname]
        if dry_run:
            return matches
        for att in matches:
            self._teardown(att, current_ns)
        return matches

    def plan_detach(self, guest: str, ifname: str | None = None) -> Plan:
        plans = [self._detach_plan(a, self._ns_id_now(a)) for a in self.detach(guest, ifname, dry_run=True)]
        return sum(plans[1:], plans[0]) if plans else Plan("detach", guest, ())

    def _detach_plan(self, att: Attachment, current_ns: str | None) -> Plan:
        others = self._others_on(att)
        return plan_detach(att, current_ns, others, prune_bridge=bridge_prunable(self.host, att, others))

    def _teardown(self, att: Attachment, current_ns: str | None) -> None:
        # Claim the record first (compare-and-delete on its revision): when another process has
        # just wired the same guest interface again, its newer record wins and nothing is torn down.
        entry = self.store.get(records.att_key(att.host, att.id))
        if entry is None or Attachment.from_dict(entry.value).owner != att.owner:
            return
        if not self.store.txn([Compare(entry.key, entry.revision)], self._forget_ops(att)):
            return
        plan = self._detach_plan(att, current_ns)
        errors = run_best_effort(self.host, plan.steps)
        if errors:
            raise StepFailed(f"detach of {att.cont_ifname} from {att.guest.name} left: " + "; ".join(errors))

    def _forget_ops(self, att: Attachment) -> list[Op]:
        ops: list[Op] = [Delete(records.att_key(att.host, att.id))]
        if att.cidr:
            ops.append(Delete(_ip_key(att.host, att.host_if, att.cidr.split("/")[0])))
        return ops

    def _others_on(self, att: Attachment) -> int:
        return sum(1 for a in self._host_records() if a.host_if == att.host_if and a.id != att.id)

    def _host_records(self) -> list[Attachment]:
        return records.all_for_host(self.store, self.host_id)

    @staticmethod
    def _ns_id_now(att: Attachment) -> str | None:
        try:
            return netns_id(att.guest.netns_path)
        except WireworkError:
            return None

    # -- listing, inspection, garbage collection ------------------------------------------
    def ls(self) -> list[AttachmentStatus]:
        out = []
        for att in self._host_records():
            if self._ns_id_now(att) != att.guest.netns_id:
                state = "guest-gone"
            elif att.host_ifname and self.host.net.link(att.host_ifname) is None:
                state = "link-missing"
            else:
                state = "ok"
            out.append(AttachmentStatus(att, state))
        return out

    def gc(self) -> list[Attachment]:
        """Tear down what is left of attachments whose guest is gone (OVS ports, records)."""
        gone = [s.attachment for s in self.ls() if s.state != "ok"]
        for att in gone:
            try:
                self._teardown(att, self._ns_id_now(att))
            except StepFailed:
                pass  # reported by doctor; the record is gone and the rest was removed
        return gone

    def inspect(self, guest: str) -> GuestReport:
        g = self.resolve(guest)
        links = []
        for link in self.host.net.links(g.netns_path):
            addrs = [a.cidr for a in self.host.net.addresses(g.netns_path, link.name)]
            links.append({"name": link.name, "kind": link.kind or "device", "mac": link.mac, "mtu": link.mtu,
                          "up": link.up, "addresses": addrs, "alias": link.alias})
        routes = [r.__dict__ for r in self.host.net.routes(g.netns_path, table=254)]
        atts = [a for a in self._host_records() if a.guest.key == g.key]
        return GuestReport(g, links, routes, atts)

    # -- routes, rules and tc inside a guest (pipework route/rule/tc) ----------------------
    def guest_command(self, what: str, guest: str, args: list[str], *, dry_run: bool = False) -> Plan:
        if not dry_run and not self._recovered:
            self.recover()
        g = self.resolve(guest)
        plan = plan_guest_command(what, g, args)
        if not dry_run:
            self._executor().run(plan)
        return plan

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


def _ip_key(host: str, host_if: str, ip: str) -> str:
    return f"ip/{host}/{host_if}/{ip}"


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

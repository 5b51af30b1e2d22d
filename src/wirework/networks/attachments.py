"""pipework-style attachments: attach, detach, ls, gc, inspect, and commands inside a guest.

The operations behind `Wirework.attach` & co., written as functions of the session: validate,
probe (`networks.attach`), plan, claim the address, run through the executor, and commit the
record in the executor's closing transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from wirework.drivers.routes import DelAddress, DelRoute
from wirework.errors import Conflict, GuestNotFound, GuestNotRunning, ServiceError, StepFailed, WireworkError
from wirework.kernel.netns import netns_id
from wirework.model.guest import Guest
from wirework.model.specs import AttachSpec
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
from wirework.plan.executor import OPS_PREFIX, run_best_effort
from wirework.plan.journal import Holder, operation
from wirework.plan.steps import Plan, Step
from wirework.store.base import Compare, Delete, Op, Put

if TYPE_CHECKING:
    from wirework.api import Wirework


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


def ip_key(host: str, host_if: str, ip: str) -> str:
    return f"ip/{host}/{host_if}/{ip}"


def claim_value(att_id: str, op: str) -> dict[str, Any]:
    """An address claim while the attach runs: the attachment, and the operation that made it.
    The commit replaces it with the bare attachment id (the record then holds the address)."""
    return {"att": att_id, **Holder(op).to_dict()}


def claim_holder(value: Any) -> tuple[str, Holder | None]:
    """The attachment a claim is for, and the operation making it (None once committed)."""
    if isinstance(value, dict):
        return str(value.get("att", "")), Holder.from_dict(value)
    return str(value), None


def _claim_live(ww: Wirework, value: Any) -> bool:
    att, holder = claim_holder(value)
    return holder.alive() if holder is not None else _op_running(ww, att)


def release_stale_claims(ww: Wirework) -> list[str]:
    """Address claims made by attaches that crashed before writing their record."""
    out = []
    for entry in ww.store.scan(f"ip/{ww.host_id}/"):
        att, _ = claim_holder(entry.value)
        stale = records.load(ww.store, ww.host_id, att) is None and not _claim_live(ww, entry.value)
        if stale and ww.store.txn([Compare(entry.key, entry.revision)], [Delete(entry.key)]):
            out.append(f"released the claim on {entry.key.rsplit('/', 1)[1]} of an interrupted attach")
    return out

def sweep_forward_rules(ww: Wirework) -> list[str]:
    """FORWARD accepts for wirework bridges that are gone (a crash between bridge and rule)."""
    if ww.host.netns is not None or not ww.host.fw.forward_blocked():
        return []  # only the real host's root namespace shares its FORWARD chain with Docker
    out = []
    for bridge in ww.host.fw.bridges_with_forward():
        if ww.host.net.link(bridge) is None and ww.host.fw.remove_bridge_forward(bridge, f"bridge:{bridge}"):
            out.append(f"removed the FORWARD accept of bridge {bridge}, which no longer exists")
    return out


def attach_spec(ww: Wirework, spec: AttachSpec, *, dry_run: bool = False) -> AttachResult:
    if not dry_run:
        ww.ensure_recovered()  # first, so that probing sees the host as recovery leaves it
    spec = _resolve_host_mac(ww, spec)
    g = ww.resolve(spec.guest)
    att_id = attachment_id(g.key, spec.cont_ifname)
    existing = records.load(ww.store, ww.host_id, att_id)
    stale = stale_or_noop(ww, existing, g, spec)
    if existing is not None and stale is None:
        return AttachResult(existing, False, Plan("attach", existing.owner, ()))
    facts = probe_attach(ww.host, spec, g, None, _used_ips(ww, spec, att_id), host_ns_id=_host_ns_id(ww))
    check_attach(spec, facts)
    plan = plan_attach(spec, facts)
    if stale is not None:
        # The guest restarted (new namespace) or its interface was removed by hand: clear
        # the host-side leftovers (an OVS port, say) before wiring it again.
        plan = replace(plan_detach(stale, None, 1), operation="attach") + plan
    if dry_run:
        return AttachResult(make_record(ww, spec, facts, g, []), True, plan)
    holder: list[Attachment] = []

    def commit(undo: list[Step]) -> list[Op]:
        holder.append(make_record(ww, spec, facts, g, undo))
        return (forget_ops(ww, stale) if stale else []) + record_ops(ww, holder[0])

    with operation() as op:
        reserved = _reserve_ip(ww, spec, att_id, op)
        try:
            ww._executor().run(plan, commit, op=op)
        except BaseException:
            if reserved:
                _release_ip(ww, spec, op)
            raise
    return AttachResult(holder[0], True, plan)

def _resolve_host_mac(ww: Wirework, spec: AttachSpec) -> AttachSpec:
    """pipework's mac:<host-mac>: name the interface now, so every check sees the real one."""
    if spec.host_mac is None or spec.host_if:
        return spec
    return replace(spec, host_if=host_if_by_mac(ww.host, spec.host_mac))

def _host_ns_id(ww: Wirework) -> str:
    return netns_id(ww.host.netns_path or "/proc/self/ns/net")

def stale_or_noop(ww: Wirework, att: Attachment | None, g: Guest, spec: AttachSpec) -> Attachment | None:
    """None when `att` is live and identical (a no-op); `att` when it is stale; else refuse."""
    if att is None:
        return None
    alive = att.guest.netns_id == g.netns_id and ww.host.net.link(spec.cont_ifname, g.netns_path) is not None
    if not alive:
        return att
    if att.spec.same_wiring(spec):
        return None
    raise Conflict(f"{spec.cont_ifname} of guest {g.name!r} is already wired to {att.host_if} "
                   f"({att.cidr or 'dhcp'}); run 'wirework detach {spec.guest} -i {spec.cont_ifname}' first")

def _used_ips(ww: Wirework, spec: AttachSpec, att_id: str) -> list[Attachment]:
    """Who holds the requested address on that host interface (not this very attachment)."""
    if not spec.cidr:
        return []
    entry = ww.store.get(ip_key(ww.host_id, spec.host_if, spec.cidr.split("/")[0]))
    if entry is None or claim_holder(entry.value)[0] == att_id:
        return []
    att = records.load(ww.store, ww.host_id, claim_holder(entry.value)[0])
    return [att] if att is not None else []

def _reserve_ip(ww: Wirework, spec: AttachSpec, att_id: str, op: str) -> bool:
    """Claim the address on its host interface before wiring (create-if-absent), so two
    concurrent attaches cannot both take it; the claim names this operation (`op`), so it is
    never taken over while the operation runs, even before its journal is written. False
    when this attachment's record already holds it."""
    if not spec.cidr:
        return False
    ip = spec.cidr.split("/")[0]
    key = ip_key(ww.host_id, spec.host_if, ip)
    for _ in range(5):
        if ww.store.create(key, claim_value(att_id, op)):
            return True
        entry = ww.store.get(key)
        if entry is None:
            continue
        holder_att, holder = claim_holder(entry.value)
        if holder_att == att_id and holder is None:
            return False
        if _claim_live(ww, entry.value):
            raise Conflict(f"address {ip} on {spec.host_if} is being taken by another process right now "
                           f"(pid {holder.pid if holder else '?'}); pick another or try again when it is done")
        if records.load(ww.store, ww.host_id, holder_att) is not None:
            raise Conflict(f"address {ip} is already used on {spec.host_if} by another guest; pick another")
        if ww.store.txn([Compare(key, entry.revision)], [Put(key, claim_value(att_id, op))]):
            return True  # a claim left by a crashed run: taken over
    raise Conflict(f"address {ip} on {spec.host_if} is contended; try again")

def _release_ip(ww: Wirework, spec: AttachSpec, op: str) -> None:
    """Give the address back after a failed attach, only while this operation's claim holds it."""
    assert spec.cidr is not None
    key = ip_key(ww.host_id, spec.host_if, spec.cidr.split("/")[0])
    entry = ww.store.get(key)
    holder = claim_holder(entry.value)[1] if entry is not None else None
    if entry is not None and holder is not None and holder.op == op:
        ww.store.txn([Compare(key, entry.revision)], [Delete(key)])

def _op_running(ww: Wirework, att_id: str) -> bool:
    """For claims written by older versions (a bare attachment id): a journal of it exists."""
    return any(str(e.value.get("plan", {}).get("owner", "")).startswith(f"att:{att_id}") for e in ww.store.scan(OPS_PREFIX))

def make_record(ww: Wirework, spec: AttachSpec, facts: Any, g: Guest, undo: list[Step]) -> Attachment:
    cidr, gateway = spec.cidr, spec.gateway
    for step in undo:  # a DHCP lease shows up as the address and route it added
        if isinstance(step, DelAddress) and step.ifname == spec.cont_ifname:
            cidr = step.cidr
        if isinstance(step, DelRoute) and step.route.dst == "default":
            gateway = step.route.gateway or gateway
    kind = {"new-bridge": "bridge", "new-ovs": "ovs", "physical": "macvlan"}.get(facts.host_kind, facts.host_kind)
    kind = "direct" if spec.direct else kind

    return Attachment(
        id=facts.att_id, host=ww.host_id, guest=g, spec=spec, host_if=facts.host_if, host_kind=kind,
        host_ifname="" if kind in ("macvlan", "direct") else (spec.host_ifname or host_veth_name(facts.att_id)),
        cont_ifname=spec.cont_ifname, cidr=cidr, gateway=gateway,
        mac=_guest_mac(spec, facts), undo=tuple(s.to_dict() for s in undo),
        nonce=getattr(facts, "nonce", ""),
    )

def _guest_mac(spec: AttachSpec, facts: Any) -> str:
    if spec.direct and facts.host_link is not None:
        return str(facts.host_link.mac)  # the NIC keeps its own
    return spec.mac or guest_mac(facts.att_id)

def record_ops(ww: Wirework, att: Attachment) -> list[Op]:
    ops: list[Op] = [records.put_op(att)]
    if att.cidr:
        ops.append(Put(ip_key(att.host, att.host_if, att.cidr.split("/")[0]), att.id))
    return ops

def detach(ww: Wirework, guest: str, ifname: str | None = None, *, dry_run: bool = False) -> list[Attachment]:
    """Undo attachments of a guest (all, or one interface). Detaching twice is fine."""
    if not dry_run:
        ww.ensure_recovered()
    current_ns: str | None
    try:
        g = ww.resolve(guest)
        current_ns = g.netns_id
        matches = [a for a in host_records(ww) if a.guest.key == g.key]
    except (GuestNotFound, GuestNotRunning, ServiceError):
        current_ns = None  # the guest is gone: only host-side leftovers remain
        matches = [a for a in host_records(ww) if guest in (a.guest.ref, a.guest.name, a.guest.key)]
    if ifname:
        matches = [a for a in matches if a.cont_ifname == ifname]
    if dry_run:
        return matches
    for att in matches:
        teardown(ww, att, current_ns)
    return matches

def plan_detach_guest(ww: Wirework, guest: str, ifname: str | None = None) -> Plan:
    plans = [_detach_plan(ww, a, ns_id_now(a)) for a in detach(ww, guest, ifname, dry_run=True)]
    return sum(plans[1:], plans[0]) if plans else Plan("detach", guest, ())

def _detach_plan(ww: Wirework, att: Attachment, current_ns: str | None) -> Plan:
    others = _others_on(ww, att)
    return plan_detach(att, current_ns, others, prune_bridge=bridge_prunable(ww.host, att, others))

def teardown(ww: Wirework, att: Attachment, current_ns: str | None) -> None:
    """Remove what `att` made, then its record: kept while anything is left (a retry removes
    the rest, every step tolerates absence). The record goes by compare-and-delete on the
    revision read first: a newer wiring of the same guest interface (another owner tag) is
    never touched, neither its objects nor its record."""
    entry = ww.store.get(records.att_key(att.host, att.id))
    if entry is None or Attachment.from_dict(entry.value).owner != att.owner:
        return
    plan = _detach_plan(ww, att, current_ns)
    errors = run_best_effort(ww.host, plan.steps)
    if errors:
        raise StepFailed(f"detach of {att.cont_ifname} from {att.guest.name} left: " + "; ".join(errors)
                         + "; its record is kept: run the command again once that is fixed")
    ww.store.txn([Compare(entry.key, entry.revision)], forget_ops(ww, att))

def forget_ops(ww: Wirework, att: Attachment) -> list[Op]:
    ops: list[Op] = [Delete(records.att_key(att.host, att.id))]
    if att.cidr:
        ops.append(Delete(ip_key(att.host, att.host_if, att.cidr.split("/")[0])))
    return ops

def _others_on(ww: Wirework, att: Attachment) -> int:
    return sum(1 for a in host_records(ww) if a.host_if == att.host_if and a.id != att.id)

def host_records(ww: Wirework) -> list[Attachment]:
    return records.all_for_host(ww.store, ww.host_id)

def ns_id_now(att: Attachment) -> str | None:
    try:
        return netns_id(att.guest.netns_path)
    except WireworkError:
        return None

# -- listing, inspection, garbage collection


def ls(ww: Wirework) -> list[AttachmentStatus]:
    out = []
    for att in host_records(ww):
        if ns_id_now(att) != att.guest.netns_id:
            state = "guest-gone"
        elif att.host_ifname and ww.host.net.link(att.host_ifname) is None:
            state = "link-missing"
        else:
            state = "ok"
        out.append(AttachmentStatus(att, state))
    return out

def gc(ww: Wirework) -> list[Attachment]:
    """Tear down what is left of attachments whose guest is gone (OVS ports, records).

    Returns what was cleaned up; when a teardown fails, the others still go, then StepFailed
    names what is left (its record is kept, so the next gc tries again)."""
    cleaned, errors = [], []
    for att in (s.attachment for s in ls(ww) if s.state != "ok"):
        try:
            teardown(ww, att, ns_id_now(att))
            cleaned.append(att)
        except StepFailed as exc:
            errors.append(str(exc))
    if errors:
        done = f" (cleaned up {len(cleaned)} other(s))" if cleaned else ""
        raise StepFailed("; ".join(errors) + done)
    return cleaned

def inspect(ww: Wirework, guest: str) -> GuestReport:
    g = ww.resolve(guest)
    links = []
    for link in ww.host.net.links(g.netns_path):
        addrs = [a.cidr for a in ww.host.net.addresses(g.netns_path, link.name)]
        links.append({"name": link.name, "kind": link.kind or "device", "mac": link.mac, "mtu": link.mtu,
                      "up": link.up, "addresses": addrs, "alias": link.alias})
    routes = [r.__dict__ for r in ww.host.net.routes(g.netns_path, table=254)]
    atts = [a for a in host_records(ww) if a.guest.key == g.key]
    return GuestReport(g, links, routes, atts)

# -- routes, rules and tc inside a guest (pipework route/rule/tc)


def guest_command(ww: Wirework, what: str, guest: str, args: list[str], *, dry_run: bool = False) -> Plan:
    if not dry_run:
        ww.ensure_recovered()
    g = ww.resolve(guest)
    plan = plan_guest_command(what, g, args)
    if not dry_run:
        ww._executor().run(plan)
    return plan

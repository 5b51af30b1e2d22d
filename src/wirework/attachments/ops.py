"""pipework-style attach and detach, and commands inside a guest, as functions of a HostContext.

The operations behind `Wirework.attach` & co.: probe (`attachments.attach`), plan, claim the
address (`attachments.claims`), run through the executor, and commit the record in the
executor's closing transaction. `networks.connops` builds its connects on the same records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from wirework.attachments import claims, persist, records
from wirework.attachments.attach import (
    bridge_prunable,
    check_attach,
    host_if_by_mac,
    plan_attach,
    plan_detach,
    probe_attach,
)
from wirework.attachments.guestcmd import plan_guest_command
from wirework.attachments.records import Attachment
from wirework.context import HostContext
from wirework.drivers.dhcp import DhcpLease
from wirework.drivers.routes import DelAddress, DelRoute
from wirework.errors import Conflict, GuestNotFound, GuestNotRunning, ServiceError, StepFailed, WireworkError
from wirework.kernel.netns import netns_id
from wirework.model.guest import Guest
from wirework.model.specs import AttachSpec
from wirework.naming import attachment_id, guest_mac, host_veth_name
from wirework.plan.executor import run_best_effort
from wirework.plan.journal import operation
from wirework.plan.steps import Plan, Step
from wirework.store.base import Compare, Delete, Op, Put


@dataclass(frozen=True)
class AttachResult:
    attachment: Attachment
    changed: bool
    plan: Plan


def sweep_forward_rules(ctx: HostContext) -> list[str]:
    """FORWARD accepts for wirework bridges that are gone (a crash between bridge and rule)."""
    if ctx.host.netns is not None or not ctx.host.fw.forward_blocked():
        return []  # only the real host's root namespace shares its FORWARD chain with Docker
    out = []
    for bridge in ctx.host.fw.bridges_with_forward():
        if ctx.host.net.link(bridge) is None and ctx.host.fw.remove_bridge_forward(bridge, f"bridge:{bridge}"):
            out.append(f"removed the FORWARD accept of bridge {bridge}, which no longer exists")
    return out


def attach_spec(ctx: HostContext, spec: AttachSpec, *, dry_run: bool = False, guest: Guest | None = None) -> AttachResult:
    """`guest`: the spec's guest already resolved (a restarted container, looked up once)."""
    if not dry_run:
        ctx.ensure_recovered()  # first, so that probing sees the host as recovery leaves it
    spec = _resolve_host_mac(ctx, spec)
    g = guest or ctx.resolve(spec.guest)
    att_id = attachment_id(g.key, spec.cont_ifname)
    gone = _gone_holder(ctx, spec, att_id)
    if gone is not None and not dry_run:
        _clear(ctx, gone)
    existing = records.load(ctx.store, ctx.host_id, att_id)
    stale = stale_or_noop(ctx, existing, g, spec)
    if existing is not None and stale is None:
        return AttachResult(existing, False, Plan("attach", existing.owner, ()))
    used = [a for a in claims.used_ips(ctx, spec, att_id) if gone is None or a.id != gone.id]
    facts = probe_attach(ctx.host, spec, g, used, host_ns_id=_host_ns_id(ctx))
    check_attach(spec, facts)
    plan = plan_attach(spec, facts)
    if gone is not None and dry_run:  # what the run would clear first
        plan = replace(_detach_plan(ctx, gone, ns_id_now(gone)), operation="attach") + plan
    if stale is not None:
        # The guest restarted (new namespace) or its interface was removed by hand: clear
        # the host-side leftovers (an OVS port, say) before wiring it again.
        plan = replace(plan_detach(stale, None, 1), operation="attach") + plan
    if dry_run:
        return AttachResult(make_record(ctx, spec, facts, g, []), True, plan)
    holder: list[Attachment] = []

    def commit(undo: list[Step]) -> list[Op]:
        holder.append(make_record(ctx, spec, facts, g, undo))
        return (forget_ops(ctx, stale) if stale else []) + record_ops(ctx, holder[0])

    with operation() as op:  # the claim names it: nobody takes it over while this runs
        reserved = claims.reserve_ip(ctx, spec, att_id, op)
        try:
            ctx.executor().run(plan, commit, op=op)
        except BaseException:
            if reserved:
                claims.release_ip(ctx, spec, op)
            raise
    return AttachResult(holder[0], True, plan)

def _resolve_host_mac(ctx: HostContext, spec: AttachSpec) -> AttachSpec:
    """pipework's mac:<host-mac>: name the interface now, so every check sees the real one."""
    if spec.host_mac is None or spec.host_if:
        return spec
    return replace(spec, host_if=host_if_by_mac(ctx.host, spec.host_mac))

def _host_ns_id(ctx: HostContext) -> str:
    return netns_id(ctx.host.netns_path or "/proc/self/ns/net")

def stale_or_noop(ctx: HostContext, att: Attachment | None, g: Guest, spec: AttachSpec) -> Attachment | None:
    """None when `att` is live and identical (a no-op); `att` when it is stale; else refuse."""
    if att is None:
        return None
    alive = att.guest.netns_id == g.netns_id and ctx.host.net.link(spec.cont_ifname, g.netns_path) is not None
    if not alive:
        return att
    if att.spec.same_wiring(spec):
        return None
    raise Conflict(f"{spec.cont_ifname} of guest {g.name!r} is already wired to {att.host_if} "
                   f"({att.cidr or 'dhcp'}); run 'wirework detach {spec.guest} -i {spec.cont_ifname}' first")

def _gone_holder(ctx: HostContext, spec: AttachSpec, att_id: str) -> Attachment | None:
    """The attachment holding the requested address, when its guest is gone (container removed,
    process dead or its PID reused, namespace deleted). A live holder, or a claim without a
    record (an attach in flight, or a crashed one: claims.reserve_ip decides), is not returned."""
    if not spec.cidr:
        return None
    entry = ctx.store.get(claims.ip_key(ctx.host_id, spec.host_if, spec.cidr.split("/")[0]))
    holder_id = claims.claim_holder(entry.value)[0] if entry is not None else att_id
    if holder_id == att_id:
        return None
    holder = records.load(ctx.store, ctx.host_id, holder_id)
    # A stopped container keeps its address (it is wired again when it starts) unless --once.
    return holder if holder is not None and persist.gone(holder, state_of(ctx, holder)) else None

def _clear(ctx: HostContext, gone: Attachment) -> None:
    """Tear down an attachment whose guest is gone, as gc would, so that the everyday
    `docker rm -f x; docker run --name x; pipework ...` loop needs no gc in between. When
    something of it cannot be removed, its record and claim stay and StepFailed says what."""
    teardown(ctx, gone, ns_id_now(gone))

def make_record(ctx: HostContext, spec: AttachSpec, facts: Any, g: Guest, undo: list[Step]) -> Attachment:
    cidr, gateway, lease = spec.cidr, spec.gateway, None
    for step in undo:  # a DHCP lease shows up as the address and route it added, and itself
        if isinstance(step, DelAddress) and step.ifname == spec.cont_ifname:
            cidr = step.cidr
        if isinstance(step, DelRoute) and step.route.dst == "default":
            gateway = step.route.gateway or gateway
        if isinstance(step, DhcpLease):
            lease = {k: v for k, v in step.to_dict().items() if k not in ("kind", "ifname", "ns")}
    kind = {"new-bridge": "bridge", "new-ovs": "ovs", "physical": "macvlan"}.get(facts.host_kind, facts.host_kind)
    kind = "direct" if spec.direct else kind

    return Attachment(
        id=facts.att_id, host=ctx.host_id, guest=g, spec=spec, host_if=facts.host_if, host_kind=kind,
        host_ifname="" if kind in ("macvlan", "direct") else (spec.host_ifname or host_veth_name(facts.att_id)),
        cont_ifname=spec.cont_ifname, cidr=cidr, gateway=gateway,
        mac=_guest_mac(spec, facts), undo=tuple(s.to_dict() for s in undo),
        nonce=getattr(facts, "nonce", ""), dhcp_lease=lease,
    )

def _guest_mac(spec: AttachSpec, facts: Any) -> str:
    if spec.direct and facts.host_link is not None:
        return str(facts.host_link.mac)  # the NIC keeps its own
    return spec.mac or guest_mac(facts.att_id)

def record_ops(ctx: HostContext, att: Attachment) -> list[Op]:
    ops: list[Op] = [records.put_op(att)]
    if att.cidr:
        ops.append(Put(claims.ip_key(att.host, att.host_if, att.cidr.split("/")[0]), att.id))
    return ops

def detach(ctx: HostContext, guest: str, ifname: str | None = None, *, dry_run: bool = False,
           keep: Callable[[Attachment], str | None] | None = None) -> list[Attachment]:
    """Undo attachments of a guest (all, or one interface). Detaching twice is fine.
    `keep(att)` names the command that owns an attachment made by a higher layer (a network
    connection: `wirework disconnect NET GUEST`); those stay, and when nothing else matches
    the caller is told to use that command instead."""
    if not dry_run:
        ctx.ensure_recovered()
    current_ns: str | None
    try:
        g = ctx.resolve(guest)
        current_ns = g.netns_id
        matches = [a for a in own_records(ctx) if a.guest.key == g.key]
    except (GuestNotFound, GuestNotRunning, ServiceError) as exc:
        current_ns = None  # the guest is gone: only host-side leftovers remain
        matches = [a for a in own_records(ctx) if guest in (a.guest.ref, a.guest.name, a.guest.key)]
        if not matches and isinstance(exc, GuestNotFound):
            raise  # not a guest, never wired here: a typo (the error names near names)
    if ifname:
        matches = [a for a in matches if a.cont_ifname == ifname]
    owned = {a.id: keep(a) for a in matches} if keep else {}
    if matches and all(owned.get(a.id) for a in matches):
        raise Conflict(f"{' and '.join(a.cont_ifname for a in matches)} of {matches[0].guest.name} "
                       f"came from a network connection; use {'; '.join(sorted({str(owned[a.id]) for a in matches}))}")
    matches = [a for a in matches if not owned.get(a.id)]
    if dry_run:
        return matches
    for att in matches:
        teardown(ctx, att, current_ns)
    for key in {a.guest.key for a in matches}:
        if not any(a.guest.key == key for a in host_records(ctx)):
            persist.forget_guest_commands(ctx, key)  # nothing left for its routes to use
    return matches

def plan_detach_guest(ctx: HostContext, guest: str, ifname: str | None = None,
                      keep: Callable[[Attachment], str | None] | None = None) -> Plan:
    plans = [_detach_plan(ctx, a, ns_id_now(a)) for a in detach(ctx, guest, ifname, dry_run=True, keep=keep)]
    return sum(plans[1:], plans[0]) if plans else Plan("detach", guest, ())

def detach_plan(ctx: HostContext, att: Attachment) -> Plan:
    """What detaching `att` now would do (for --dry-run of detach, disconnect, network rm)."""
    return _detach_plan(ctx, att, ns_id_now(att))


def _detach_plan(ctx: HostContext, att: Attachment, current_ns: str | None) -> Plan:
    others = _others_on(ctx, att)
    return plan_detach(att, current_ns, others, prune_bridge=bridge_prunable(ctx.host, att, others))

def teardown(ctx: HostContext, att: Attachment, current_ns: str | None) -> None:
    """Remove what `att` made, then its record: kept while anything is left (a retry removes
    the rest, every step tolerates absence). The record goes by compare-and-delete on the
    revision read first: a newer wiring of the same guest interface (another owner tag) is
    never touched, neither its objects nor its record."""
    entry = ctx.store.get(records.att_key(att.host, att.id))
    if entry is None or Attachment.from_dict(entry.value).owner != att.owner:
        return
    plan = _detach_plan(ctx, att, current_ns)
    errors = run_best_effort(ctx.host, plan.steps)
    if errors:
        raise StepFailed(f"detach of {att.cont_ifname} from {att.guest.name} left: " + "; ".join(errors)
                         + "; its record is kept: run the command again once that is fixed")
    ctx.store.txn([Compare(entry.key, entry.revision)], forget_ops(ctx, att))

def forget_ops(ctx: HostContext, att: Attachment) -> list[Op]:
    ops: list[Op] = [Delete(records.att_key(att.host, att.id))]
    if att.cidr:
        ops.append(Delete(claims.ip_key(att.host, att.host_if, att.cidr.split("/")[0])))
    return ops

def _others_on(ctx: HostContext, att: Attachment) -> int:
    return sum(1 for a in host_records(ctx) if a.host_if == att.host_if and a.id != att.id)

def host_records(ctx: HostContext) -> list[Attachment]:
    return records.all_for_host(ctx.store, ctx.host_id)

def own_records(ctx: HostContext) -> list[Attachment]:
    """The attachments wirework was asked for (Docker's endpoints are Docker's to remove)."""
    return [a for a in host_records(ctx) if a.made_by == "wirework"]

def ns_id_now(att: Attachment) -> str | None:
    try:
        return netns_id(att.guest.netns_path)
    except WireworkError:
        return None

def state_of(ctx: HostContext, att: Attachment) -> str:
    """"ok"; "guest-gone" (the container was removed, the process died or its PID is another's,
    the netns was deleted); "link-missing" (its host end was removed by hand); for a Docker
    container also "stopped" and "restarted" (see `attachments.persist`). gc tears down what
    `persist.gone` says, and an attach asking for the address of such a one does the same first."""
    return persist.state_of(ctx, att)

# -- routes, rules and tc inside a guest (pipework route/rule/tc)


def guest_command(ctx: HostContext, what: str, guest: str, args: list[str], *, dry_run: bool = False,
                  remember: bool = True) -> Plan:
    """Routes, rules, qdiscs inside a guest; a Docker container's are replayed after a restart."""
    if not dry_run:
        ctx.ensure_recovered()
    g = ctx.resolve(guest)
    plan = plan_guest_command(what, g, args)
    if not dry_run:
        ctx.executor().run(plan)
        if remember and g.kind == "docker":
            persist.remember_guest_command(ctx, g.key, what, args)
    return plan

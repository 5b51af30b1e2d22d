"""Address claims: `ip/<host>/<if>/<ip>` names the attachment holding an address on a host interface.

An attach claims its address with create-if-absent *before* wiring, so two concurrent attaches
cannot both take it; the claim is written again with the record when the attach commits, and
dropped with the record on detach. A claim whose holder has neither a record nor a running
operation was left by a crash: the next attach takes it over, and recovery releases it.
"""

from __future__ import annotations

from wirework.attachments import records
from wirework.attachments.records import Attachment
from wirework.context import HostContext
from wirework.errors import Conflict
from wirework.model.specs import AttachSpec
from wirework.plan.executor import OPS_PREFIX
from wirework.store.base import Compare, Delete, Put


def ip_key(host: str, host_if: str, ip: str) -> str:
    return f"ip/{host}/{host_if}/{ip}"


def release_stale_claims(ctx: HostContext) -> list[str]:
    """Address claims made by attaches that crashed before writing their record."""
    out = []
    for entry in ctx.store.scan(f"ip/{ctx.host_id}/"):
        holder = str(entry.value)
        stale = records.load(ctx.store, ctx.host_id, holder) is None and not op_running(ctx, holder)
        if stale and ctx.store.txn([Compare(entry.key, entry.revision)], [Delete(entry.key)]):
            out.append(f"released the claim on {entry.key.rsplit('/', 1)[1]} of an interrupted attach")
    return out


def used_ips(ctx: HostContext, spec: AttachSpec, att_id: str) -> list[Attachment]:
    """Who holds the requested address on that host interface (not this very attachment)."""
    if not spec.cidr:
        return []
    entry = ctx.store.get(ip_key(ctx.host_id, spec.host_if, spec.cidr.split("/")[0]))
    if entry is None or entry.value == att_id:
        return []
    att = records.load(ctx.store, ctx.host_id, str(entry.value))
    return [att] if att is not None else []


def reserve_ip(ctx: HostContext, spec: AttachSpec, att_id: str) -> bool:
    """Claim the address on its host interface before wiring (create-if-absent), so two
    concurrent attaches cannot both take it. False when this attachment already held it."""
    if not spec.cidr:
        return False
    ip = spec.cidr.split("/")[0]
    key = ip_key(ctx.host_id, spec.host_if, ip)
    for _ in range(5):
        if ctx.store.create(key, att_id):
            return True
        entry = ctx.store.get(key)
        if entry is None:
            continue
        if entry.value == att_id:
            return False
        holder = str(entry.value)
        att = records.load(ctx.store, ctx.host_id, holder)
        if att is not None or op_running(ctx, holder):
            who = att.guest.name if att is not None else "a guest being attached right now"
            raise Conflict(f"address {ip} is already used on {spec.host_if} by {who}; pick another")
        if ctx.store.txn([Compare(key, entry.revision)], [Put(key, att_id)]):
            return True  # a claim left by a crashed run: taken over
    raise Conflict(f"address {ip} on {spec.host_if} is contended; try again")


def release_ip(ctx: HostContext, spec: AttachSpec, att_id: str) -> None:
    assert spec.cidr is not None
    key = ip_key(ctx.host_id, spec.host_if, spec.cidr.split("/")[0])
    entry = ctx.store.get(key)
    if entry is not None and entry.value == att_id:
        ctx.store.txn([Compare(key, entry.revision)], [Delete(key)])


def op_running(ctx: HostContext, att_id: str) -> bool:
    return any(e.value.get("plan", {}).get("owner", "").startswith(f"att:{att_id}")
               for e in ctx.store.scan(OPS_PREFIX))

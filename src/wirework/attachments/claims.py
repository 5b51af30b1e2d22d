"""Address claims: `ip/<host>/<if>/<ip>` names the attachment holding an address on a host interface.

An attach claims its address with create-if-absent *before* wiring, so two concurrent attaches
cannot both take it. Until the attach commits, the claim also names the operation making it
(`plan.journal.Holder`: op id, pid, process start time), because its journal does not exist yet:
while that operation runs, nobody takes the claim over, and a failed attach releases it only
while it still names that operation. The commit writes the bare attachment id with the record,
and detach drops both. A claim whose holder has no record and whose operation is gone was left
by a crash: the next attach takes it over, and recovery releases it. Claims written by older
versions (a bare id, no operation) count as running while a journal of that attachment exists.
"""

from __future__ import annotations

from typing import Any

from wirework.attachments import records
from wirework.attachments.records import Attachment
from wirework.context import HostContext
from wirework.errors import Conflict
from wirework.model.specs import AttachSpec
from wirework.plan.executor import OPS_PREFIX
from wirework.plan.journal import Holder
from wirework.store.base import Compare, Delete, Put


def ip_key(host: str, host_if: str, ip: str) -> str:
    return f"ip/{host}/{host_if}/{ip}"


def claim_value(att_id: str, op: str) -> dict[str, Any]:
    """A claim while the attach runs: the attachment, and the operation making it."""
    return {"att": att_id, **Holder(op).to_dict()}


def claim_holder(value: Any) -> tuple[str, Holder | None]:
    """The attachment a claim is for, and the operation making it (None once committed)."""
    if isinstance(value, dict):
        return str(value.get("att", "")), Holder.from_dict(value)
    return str(value), None


def claim_live(ctx: HostContext, value: Any) -> bool:
    att, holder = claim_holder(value)
    return holder.alive() if holder is not None else op_running(ctx, att)


def release_stale_claims(ctx: HostContext) -> list[str]:
    """Address claims made by attaches that crashed before writing their record."""
    out = []
    for entry in ctx.store.scan(f"ip/{ctx.host_id}/"):
        att, _ = claim_holder(entry.value)
        stale = records.load(ctx.store, ctx.host_id, att) is None and not claim_live(ctx, entry.value)
        if stale and ctx.store.txn([Compare(entry.key, entry.revision)], [Delete(entry.key)]):
            out.append(f"released the claim on {entry.key.rsplit('/', 1)[1]} of an interrupted attach")
    return out


def used_ips(ctx: HostContext, spec: AttachSpec, att_id: str) -> list[Attachment]:
    """Who holds the requested address on that host interface (not this very attachment)."""
    if not spec.cidr:
        return []
    entry = ctx.store.get(ip_key(ctx.host_id, spec.host_if, spec.cidr.split("/")[0]))
    if entry is None or claim_holder(entry.value)[0] == att_id:
        return []
    att = records.load(ctx.store, ctx.host_id, claim_holder(entry.value)[0])
    return [att] if att is not None else []


def reserve_ip(ctx: HostContext, spec: AttachSpec, att_id: str, op: str) -> bool:
    """Claim the address on its host interface before wiring (create-if-absent), naming the
    operation `op`. False when this attachment's record already holds it."""
    if not spec.cidr:
        return False
    ip = spec.cidr.split("/")[0]
    key = ip_key(ctx.host_id, spec.host_if, ip)
    for _ in range(5):
        if ctx.store.create(key, claim_value(att_id, op)):
            return True
        entry = ctx.store.get(key)
        if entry is None:
            continue
        holder_att, holder = claim_holder(entry.value)
        if holder_att == att_id and holder is None:
            return False
        if claim_live(ctx, entry.value):
            raise Conflict(f"address {ip} on {spec.host_if} is being taken by another process right now "
                           f"(pid {holder.pid if holder else '?'}); pick another or try again when it is done")
        att = records.load(ctx.store, ctx.host_id, holder_att)
        if att is not None:
            raise Conflict(f"address {ip} is already used on {spec.host_if} by {att.guest.name}; pick another")
        if ctx.store.txn([Compare(key, entry.revision)], [Put(key, claim_value(att_id, op))]):
            return True  # a claim left by a crashed run: taken over
    raise Conflict(f"address {ip} on {spec.host_if} is contended; try again")


def release_ip(ctx: HostContext, spec: AttachSpec, op: str) -> None:
    """Give the address back after a failed attach, only while this operation's claim holds it."""
    assert spec.cidr is not None
    key = ip_key(ctx.host_id, spec.host_if, spec.cidr.split("/")[0])
    entry = ctx.store.get(key)
    holder = claim_holder(entry.value)[1] if entry is not None else None
    if entry is not None and holder is not None and holder.op == op:
        ctx.store.txn([Compare(key, entry.revision)], [Delete(key)])


def op_running(ctx: HostContext, att_id: str) -> bool:
    """For claims of older versions (a bare attachment id): a journal of that attachment exists."""
    return any(str(e.value.get("plan", {}).get("owner", "")).startswith(f"att:{att_id}")
               for e in ctx.store.scan(OPS_PREFIX))

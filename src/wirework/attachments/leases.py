"""Renewing DHCP leases of attachments: before half a lease's time is up, ask for the same
address again (the client once more, inside the guest) and record the new lease.

`renew_leases` is what the resident service runs every few seconds for each host it serves;
without the service nobody renews, and `doctor` reports a lease that ran out
(`expired_leases`). When the server hands out another address, the guest's address moves
with it, and the record's undo steps and address claim follow.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from wirework.attachments import claims, records
from wirework.attachments.ops import state_of
from wirework.attachments.records import Attachment
from wirework.context import HostContext
from wirework.drivers.dhcp import DhcpLease, lease_cidr, request_lease
from wirework.drivers.routes import AddAddress, DelAddress
from wirework.errors import WireworkError
from wirework.plan.steps import Plan, Step
from wirework.store.base import Compare, Delete, Op, Put


def due(lease: dict[str, Any], now: float) -> bool:
    """Renew at half the lease (RFC 2131's T1); a lease of unknown length is left alone."""
    seconds = float(lease.get("seconds") or 0)
    return seconds > 0 and now >= float(lease.get("obtained") or 0) + seconds / 2


def expired(lease: dict[str, Any], now: float) -> bool:
    seconds = float(lease.get("seconds") or 0)
    return seconds > 0 and now >= float(lease.get("obtained") or 0) + seconds


def renew_leases(ctx: HostContext, *, now: float | None = None) -> list[str]:
    """Renew every lease of this host that is due; a line per lease renewed or not renewed."""
    when = time.time() if now is None else now
    out = []
    for att in records.all_for_host(ctx.store, ctx.host_id):
        lease = att.dhcp_lease
        if not lease or not due(lease, when) or state_of(ctx, att) != "ok":
            continue
        try:
            out.append(_renew(ctx, att, lease))
        except WireworkError as exc:
            out.append(f"could not renew the DHCP lease of {_who(att)}: {exc}")
    return out


def _who(att: Attachment) -> str:
    return f"{att.guest.name} {att.cont_ifname}"


def _renew(ctx: HostContext, att: Attachment, lease: dict[str, Any]) -> str:
    old = str(lease["ip"])
    got = request_lease(ctx.host, att.guest.netns_path, att.cont_ifname, str(lease.get("client", "auto")),
                        tuple(lease.get("options") or ()), requested=old.split("/")[0])
    new = lease_cidr(got)
    if new != old:
        ctx.executor().run(Plan("dhcp-renew", att.owner, (AddAddress(att.cont_ifname, new, att.guest.netns_path),
                                                   DelAddress(att.cont_ifname, old, att.guest.netns_path))))
    renewed = {**lease, "ip": new, "seconds": int(got.get("lease") or 0), "server": got.get("server", ""),
               "obtained": time.time()}
    _store(ctx, att, renewed, old, new)
    moved = f", moved from {old}" if new != old else ""
    return f"renewed the DHCP lease of {_who(att)} ({new}, {renewed['seconds']} s{moved})"


def _store(ctx: HostContext, att: Attachment, lease: dict[str, Any], old: str, new: str) -> None:
    """The new lease into the record, by compare-and-swap: a detach meanwhile wins."""
    key = records.att_key(att.host, att.id)
    entry = ctx.store.get(key)
    if entry is None or Attachment.from_dict(entry.value).owner != att.owner:
        return
    undo = [_follow(step, lease, old, new) for step in att.undo_steps()]
    updated = replace(att, cidr=new, dhcp_lease=lease, undo=tuple(s.to_dict() for s in undo))
    ops: list[Op] = [records.put_op(updated)]
    if new != old:
        ops += [Delete(claims.ip_key(att.host, att.host_if, old.split("/")[0])),
                Put(claims.ip_key(att.host, att.host_if, new.split("/")[0]), att.id)]
    ctx.store.txn([Compare(key, entry.revision)], ops)


def _follow(step: Step, lease: dict[str, Any], old: str, new: str) -> Step:
    if isinstance(step, DelAddress) and step.cidr == old:
        return replace(step, cidr=new)
    if isinstance(step, DhcpLease):
        return replace(step, ip=new, seconds=int(lease["seconds"]), server=str(lease["server"]),
                       obtained=float(lease["obtained"]))
    return step

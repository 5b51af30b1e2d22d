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
from typing import TYPE_CHECKING, Any

from wirework.drivers.dhcp import DhcpLease, lease_cidr, request_lease
from wirework.drivers.routes import AddAddress, DelAddress
from wirework.errors import WireworkError
from wirework.networks import records
from wirework.networks.records import Attachment
from wirework.plan.steps import Plan, Step
from wirework.store.base import Compare, Delete, Op, Put

if TYPE_CHECKING:
    from wirework.api import Wirework


def due(lease: dict[str, Any], now: float) -> bool:
    """Renew at half the lease (RFC 2131's T1); a lease of unknown length is left alone."""
    seconds = float(lease.get("seconds") or 0)
    return seconds > 0 and now >= float(lease.get("obtained") or 0) + seconds / 2


def expired(lease: dict[str, Any], now: float) -> bool:
    seconds = float(lease.get("seconds") or 0)
    return seconds > 0 and now >= float(lease.get("obtained") or 0) + seconds


def renew_leases(ww: Wirework, *, now: float | None = None) -> list[str]:
    """Renew every lease of this host that is due; a line per lease renewed or not renewed."""
    from wirework.networks.attachments import state_of

    when = time.time() if now is None else now
    out = []
    for att in records.all_for_host(ww.store, ww.host_id):
        lease = att.dhcp_lease
        if not lease or not due(lease, when) or state_of(ww, att) != "ok":
            continue
        try:
            out.append(_renew(ww, att, lease))
        except WireworkError as exc:
            out.append(f"could not renew the DHCP lease of {_who(att)}: {exc}")
    return out


def _who(att: Attachment) -> str:
    return f"{att.guest.name} {att.cont_ifname}"


def _renew(ww: Wirework, att: Attachment, lease: dict[str, Any]) -> str:
    old = str(lease["ip"])
    got = request_lease(ww.host, att.guest.netns_path, att.cont_ifname, str(lease.get("client", "auto")),
                        tuple(lease.get("options") or ()), requested=old.split("/")[0])
    new = lease_cidr(got)
    if new != old:
        ww.run_plan(Plan("dhcp-renew", att.owner, (AddAddress(att.cont_ifname, new, att.guest.netns_path),
                                                   DelAddress(att.cont_ifname, old, att.guest.netns_path))))
    renewed = {**lease, "ip": new, "seconds": int(got.get("lease") or 0), "server": got.get("server", ""),
               "obtained": time.time()}
    _store(ww, att, renewed, old, new)
    moved = f", moved from {old}" if new != old else ""
    return f"renewed the DHCP lease of {_who(att)} ({new}, {renewed['seconds']} s{moved})"


def _store(ww: Wirework, att: Attachment, lease: dict[str, Any], old: str, new: str) -> None:
    """The new lease into the record, by compare-and-swap: a detach meanwhile wins."""
    key = records.att_key(att.host, att.id)
    entry = ww.store.get(key)
    if entry is None or Attachment.from_dict(entry.value).owner != att.owner:
        return
    undo = [_follow(step, lease, old, new) for step in att.undo_steps()]
    updated = replace(att, cidr=new, dhcp_lease=lease, undo=tuple(s.to_dict() for s in undo))
    ops: list[Op] = [records.put_op(updated)]
    if new != old:
        from wirework.networks.attachments import ip_key

        ops += [Delete(ip_key(att.host, att.host_if, old.split("/")[0])),
                Put(ip_key(att.host, att.host_if, new.split("/")[0]), att.id)]
    ww.store.txn([Compare(key, entry.revision)], ops)


def _follow(step: Step, lease: dict[str, Any], old: str, new: str) -> Step:
    if isinstance(step, DelAddress) and step.cidr == old:
        return replace(step, cidr=new)
    if isinstance(step, DhcpLease):
        return replace(step, ip=new, seconds=int(lease["seconds"]), server=str(lease["server"]),
                       obtained=float(lease["obtained"]))
    return step

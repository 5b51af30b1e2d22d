"""`wirework gc`: clean up after guests that are gone, everything they held, in one pass.

A guest that no longer exists (container removed, process ended, namespace deleted) may hold
more than an attachment: on a network it also holds an endpoint record, published ports (nft
map elements) and an IPAM lease. Its endpoints are dropped first (ports, veth, records,
lease), then attachments whose guest is gone: the same judgement as `up`, which also wires a
restarted guest's endpoints again. A stopped Docker container keeps its wiring (suspended: its
host-side leftovers removed, its address kept) unless it was made `--once`; what Docker made
through the plugin is Docker's to remove. A guest of `wirework run` whose command ended
stays listed (exited) until `wirework rm` or `wirework up`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wirework.attachments import listing, persist
from wirework.attachments.ops import ns_id_now, teardown
from wirework.context import HostContext
from wirework.errors import StepFailed
from wirework.networks import connops, endpoints
from wirework.networks.endpoints import Endpoint
from wirework.networks.up import guest_state


@dataclass(frozen=True)
class GcReport:
    recovered: list[str] = field(default_factory=list)  # crashed operations rolled back
    cleaned: list[str] = field(default_factory=list)  # one line per guest connection or interface
    left: list[str] = field(default_factory=list)  # what could not be removed

    def to_dict(self) -> dict[str, Any]:
        return {"recovered": self.recovered, "cleaned": self.cleaned, "left": self.left}

    def __len__(self) -> int:
        return len(self.cleaned)


def gone_endpoints(ctx: HostContext) -> list[Endpoint]:
    """Endpoints whose guest is gone (as `up` judges it: removed, stopped, ended)."""
    return [ep for ep in endpoints.all_endpoints(ctx.store, ctx.host_id) if guest_state(ctx, ep) == "gone"]


def describe_endpoint(ep: Endpoint) -> str:
    ports = ", ".join(connops.mappings_text(ep))
    return f"{ep.guest.name} from network {ep.network} ({ep.ip}" + (f", ports {ports}" if ports else "") + ")"


def gc(ctx: HostContext, *, dry_run: bool = False) -> GcReport:
    """Clean up everything of gone guests; when a teardown fails the others still go, then
    StepFailed names what is left (its records are kept, so the next gc tries again)."""
    report = GcReport(recovered=[] if dry_run else ctx.recover())
    for ep in gone_endpoints(ctx):
        report.cleaned.append(describe_endpoint(ep))
        if not dry_run:
            report.left.extend(connops.drop_endpoint(ctx, ep))
    for status in listing.ls(ctx):
        att = status.attachment
        if not dry_run and att.made_by == "wirework" and status.state in persist.WAITING and not att.spec.once:
            persist.suspend(ctx, att)  # its container stopped: kept, wired again when it starts
        if not persist.gone(att, status.state):
            continue  # ok, a stopped container's, or Docker's own
        report.cleaned.append(f"{att.guest.name} {att.cont_ifname} ({att.host_if})")
        if not dry_run:
            try:
                teardown(ctx, att, ns_id_now(att))
            except StepFailed as exc:
                report.left.append(str(exc))  # its record is kept: the next gc tries again
    if report.left:
        done = f" (cleaned up {len(report.cleaned) - len(report.left)} other(s))" if len(report) > len(report.left) else ""
        raise StepFailed("; ".join(report.left) + done)
    return report

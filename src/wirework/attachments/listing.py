"""ls, gc and inspect: what the attachment records say, checked against the machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wirework.attachments.ops import host_records, ns_id_now, state_of, teardown
from wirework.attachments.records import Attachment
from wirework.context import HostContext
from wirework.errors import StepFailed
from wirework.model.guest import Guest


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


def ls(ctx: HostContext) -> list[AttachmentStatus]:
    return [AttachmentStatus(att, state_of(ctx, att)) for att in host_records(ctx)]


def gc(ctx: HostContext) -> list[Attachment]:
    """Tear down what is left of attachments whose guest is gone (OVS ports, records).

    Returns what was cleaned up; when a teardown fails, the others still go, then StepFailed
    names what is left (its record is kept, so the next gc tries again)."""
    cleaned, errors = [], []
    for att in (s.attachment for s in ls(ctx) if s.state != "ok"):
        try:
            teardown(ctx, att, ns_id_now(att))
            cleaned.append(att)
        except StepFailed as exc:
            errors.append(str(exc))
    if errors:
        done = f" (cleaned up {len(cleaned)} other(s))" if cleaned else ""
        raise StepFailed("; ".join(errors) + done)
    return cleaned


def inspect(ctx: HostContext, guest: str) -> GuestReport:
    g = ctx.resolve(guest)
    links = []
    for link in ctx.host.net.links(g.netns_path):
        addrs = [a.cidr for a in ctx.host.net.addresses(g.netns_path, link.name)]
        links.append({"name": link.name, "kind": link.kind or "device", "mac": link.mac, "mtu": link.mtu,
                      "up": link.up, "addresses": addrs, "alias": link.alias})
    routes = [r.__dict__ for r in ctx.host.net.routes(g.netns_path, table=254)]
    atts = [a for a in host_records(ctx) if a.guest.key == g.key]
    return GuestReport(g, links, routes, atts)

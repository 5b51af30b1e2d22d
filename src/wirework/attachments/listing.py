"""ls, gc and inspect: what the attachment records say, checked against the machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wirework.attachments import persist
from wirework.attachments.ops import host_records, ns_id_now, teardown
from wirework.attachments.records import Attachment
from wirework.context import HostContext
from wirework.errors import StepFailed
from wirework.model.guest import Guest


@dataclass(frozen=True)
class AttachmentStatus:
    attachment: Attachment
    state: str  # "ok", "link-missing", "guest-gone"; Docker containers: "stopped", "restarted", ...


@dataclass(frozen=True)
class GuestReport:
    guest: Guest
    links: list[dict[str, Any]]
    routes: list[dict[str, Any]]
    attachments: list[Attachment] = field(default_factory=list)


def ls(ctx: HostContext) -> list[AttachmentStatus]:
    return [AttachmentStatus(att, persist.state_of(ctx, att)) for att in host_records(ctx)]


def gc(ctx: HostContext) -> list[Attachment]:
    """Tear down what is left of attachments whose guest is gone (OVS ports, records).

    A stopped Docker container keeps its attachments (suspended: host side removed, record and
    address kept) unless they were made `--once`; Docker's own endpoints are left to Docker.
    """
    gone = []
    for status in ls(ctx):
        att, state = status.attachment, status.state
        if att.made_by != "wirework":
            continue
        if state in persist.WAITING and not att.spec.once:
            persist.suspend(ctx, att)
            continue
        if state in ("ok", "docker-unreachable"):
            continue
        gone.append(att)
        try:
            teardown(ctx, att, ns_id_now(att))
        except StepFailed:
            pass  # reported by doctor; the record is gone and the rest was removed
    return gone


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

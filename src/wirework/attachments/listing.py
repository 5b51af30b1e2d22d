"""ls and inspect: what the attachment records say, checked against the machine (gc, which
also cleans up networks' endpoints, is `networks.gc`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wirework.attachments.ops import host_records, state_of
from wirework.attachments.records import Attachment
from wirework.context import HostContext
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
    mode: str = ""  # its network mode as `ps` shows it (filled in above attachments: networks, runs)
    networks: list[dict[str, Any]] = field(default_factory=list)  # its connections to networks


def ls(ctx: HostContext) -> list[AttachmentStatus]:
    return [AttachmentStatus(att, state_of(ctx, att)) for att in host_records(ctx)]


def inspect(ctx: HostContext, guest: str) -> GuestReport:
    g = ctx.resolve(guest)
    links = []
    for link in ctx.host.net.links(g.netns_path):
        addrs = [a.cidr for a in ctx.host.net.addresses(g.netns_path, link.name)]
        links.append({"name": link.name, "kind": link.kind or "device", "mac": link.mac, "mtu": link.mtu,
                      "up": link.up, "addresses": addrs, "alias": link.alias})
    routes = [r.__dict__ for r in ctx.host.net.routes(g.netns_path, table=254)]
    atts = [a for a in host_records(ctx) if a.guest.key == g.key]
    return GuestReport(g, links, routes, atts, g.mode or "-")

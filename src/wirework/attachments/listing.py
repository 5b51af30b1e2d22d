"""ls and inspect: what the attachment records say, checked against the machine (gc, which
also cleans up networks' endpoints, is `networks.gc`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wirework.attachments import persist
from wirework.attachments.ops import host_records
from wirework.attachments.records import Attachment
from wirework.context import HostContext
from wirework.errors import WireworkError
from wirework.model.guest import Guest


@dataclass(frozen=True)
class AttachmentStatus:
    attachment: Attachment
    state: str  # "ok", "link-missing", "guest-gone"; Docker containers: "stopped", "restarted", ...
    guest_ifname: str = ""  # the interface's name in the guest now (Docker names its endpoints ethN)


@dataclass(frozen=True)
class GuestReport:
    guest: Guest
    links: list[dict[str, Any]]
    routes: list[dict[str, Any]]
    attachments: list[Attachment] = field(default_factory=list)
    mode: str = ""  # its network mode as `ps` shows it (filled in above attachments: networks, runs)
    networks: list[dict[str, Any]] = field(default_factory=list)  # its connections to networks


def ls(ctx: HostContext) -> list[AttachmentStatus]:
    return [AttachmentStatus(att, persist.state_of(ctx, att), guest_ifname(ctx, att)) for att in host_records(ctx)]


def guest_ifname(ctx: HostContext, att: Attachment) -> str:
    """The guest end's name: as wired, or for Docker's endpoints the ethN Docker renamed it to
    (the veth's peer, looked up in the sandbox)."""
    if att.made_by != "docker":
        return att.cont_ifname
    link = ctx.host.net.link(att.host_ifname)
    if link is None or not link.link_index or not att.guest.netns_path:
        return ""
    try:
        peer = ctx.host.net.link_by_index(link.link_index, att.guest.netns_path)
    except WireworkError:
        return ""  # the sandbox is gone (the container stopped)
    return peer.name if peer is not None else ""


def inspect(ctx: HostContext, guest: str) -> GuestReport:
    """A guest's interfaces and routes, and the attachments behind them: wirework's, and for a
    Docker container the endpoints Docker made through the plugin."""
    g = ctx.resolve(guest)
    links = []
    for link in ctx.host.net.links(g.netns_path):
        addrs = [a.cidr for a in ctx.host.net.addresses(g.netns_path, link.name)]
        links.append({"name": link.name, "kind": link.kind or "device", "mac": link.mac, "mtu": link.mtu,
                      "up": link.up, "addresses": addrs, "alias": link.alias})
    routes = [r.__dict__ for r in ctx.host.net.routes(g.netns_path, table=254)]
    keys = {g.key} | _docker_endpoint_keys(ctx, g)
    atts = [a for a in host_records(ctx) if a.guest.key in keys]
    return GuestReport(g, links, routes, atts, g.mode or "-")


def _docker_endpoint_keys(ctx: HostContext, g: Guest) -> set[str]:
    if g.kind != "docker":
        return set()
    try:
        info = ctx.docker.inspect(g.key[len(persist.DOCKER_KEY):]) or {}
    except WireworkError:
        return set()
    networks = (info.get("NetworkSettings") or {}).get("Networks") or {}
    return {f"docker-ep:{n['EndpointID']}" for n in networks.values() if isinstance(n, dict) and n.get("EndpointID")}

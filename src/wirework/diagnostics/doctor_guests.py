"""Doctor checks on guests: published ports whose replies cannot come back, DHCP leases that
ran out with nobody renewing them, guests that are gone but still hold ports and leases.

Read-only, like every doctor check; each finding names the guest (not an internal id) and a
command that fixes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wirework.context import HostContext
from wirework.diagnostics.fixes import wirework
from wirework.errors import WireworkError
from wirework.firewall.model import PortMapping
from wirework.kernel.netns import netns_id
from wirework.networks import endpoints
from wirework.networks import network as nets

if TYPE_CHECKING:
    from wirework.diagnostics.doctor import Finding


def guest_findings(ctx: HostContext) -> list[Finding]:
    return ports_without_way_back(ctx) + expired_leases(ctx) + gone_guests(ctx)


def ports_without_way_back(ctx: HostContext) -> list[Finding]:
    """A guest publishing ports without a default route answers only the subnets it is on:
    not the host's own addresses, not other machines (Docker's first network gives one)."""
    from wirework.diagnostics.doctor import Finding

    out = []
    networks = {n.name: n for n in nets.all_networks(ctx.store, ctx.host_id)}
    for ep in endpoints.all_endpoints(ctx.store, ctx.host_id):
        public = [PortMapping(**p) for p in ep.ports if not PortMapping(**p).host_only]
        net = networks.get(ep.network)
        if not public or net is None or not _alive(ep.guest.netns_path, ep.guest.netns_id):
            continue
        routes = ctx.host.net.routes(ep.guest.netns_path, table=254)
        if any(r.dst == "default" and ":" not in r.gateway for r in routes):
            continue
        ports = ", ".join(m.text() for m in public[:3]) + (f" and {len(public) - 3} more" if len(public) > 3 else "")
        out.append(Finding(
            "port-no-route-back", "warning", f"{ep.guest.name} publishes {ports} but has no default route",
            f"replies to clients outside {net.subnet} have no way back: the ports answer on the host's 127.0.0.1, "
            "not on its other addresses nor from other machines",
            f"{wirework(ctx, f'pipework route {ep.guest.ref} add default via {net.gateway} dev {ep.ifname}')}  (or connect "
            f"it with --default-route: {wirework(ctx, f'disconnect {ep.network} {ep.guest.ref}')} && "
            f"{wirework(ctx, f'connect {ep.network} {ep.guest.ref} --default-route')} ...)"))
    return out


def _alive(path: str, recorded: str) -> bool:
    try:
        return netns_id(path) == recorded
    except WireworkError:
        return False


def expired_leases(ctx: HostContext) -> list[Finding]:
    """A DHCP lease past its end: the server may hand the address to another machine while the
    guest still uses it. The resident service renews leases; without it nobody does."""
    import time

    from wirework.attachments.leases import expired
    from wirework.attachments.records import all_for_host
    from wirework.diagnostics.doctor import Finding

    now, out = time.time(), []
    for att in all_for_host(ctx.store, ctx.host_id):
        lease = att.dhcp_lease
        if not lease or not expired(lease, now) or not _alive(att.guest.netns_path, att.guest.netns_id):
            continue
        ago = int(now - float(lease["obtained"]) - float(lease["seconds"]))
        out.append(Finding(
            "dhcp-lease-expired", "warning",
            f"the DHCP lease of {att.guest.name} {att.cont_ifname} ({lease['ip']}) expired {ago} s ago",
            f"nothing renewed it (the server {lease.get('server') or '?'} gave it for {lease['seconds']} s): the "
            "server may give the address to another machine while the guest still uses it",
            f"wirework service start (the resident service renews DHCP leases); or take a new lease now: "
            f"{wirework(ctx, f'detach {att.guest.ref} -i {att.cont_ifname}')} && "
            f"{wirework(ctx, f'pipework {att.host_if} -i {att.cont_ifname} {att.guest.ref} dhcp')}"))
    return out


def gone_guests(ctx: HostContext) -> list[Finding]:
    """Guests that are gone (container removed, process ended) but still hold what wirework
    gave them: endpoints with published ports and leases, attachments with host ends."""
    from wirework.attachments import listing
    from wirework.diagnostics.doctor import Finding
    from wirework.networks import gc

    out = [Finding("gone-guest", "warning", f"guest {ep.guest.name} is gone but still connected: "
                   f"{gc.describe_endpoint(ep)}", "its ports stay taken and forward to nothing, its address "
                   "stays leased", wirework(ctx, "gc")) for ep in gc.gone_endpoints(ctx)]
    on_networks = {f.what for f in out}
    for status in listing.ls(ctx):
        att = status.attachment
        if status.state != "ok" and not any(att.guest.name in w for w in on_networks):
            out.append(Finding("gone-guest", "warning", f"{att.cont_ifname} of guest {att.guest.name} "
                               f"({att.host_if}) is left: {status.state.replace('-', ' ')}",
                               "its host end (an OVS port, say) and its address claim stay", wirework(ctx, "gc")))
    return out

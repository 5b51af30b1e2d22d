"""A Docker container's wiring across its stops and starts: connections and attachments together.

What the resident service runs on Docker's events (and `wirework up` for what it missed):
`container_started` wires the container again (its network connections with their leased
addresses and published ports, then its pipework-style attachments, then the route/rule/tc
commands run in it since), `container_stopped` suspends all of that or, once the container is
removed, releases it (addresses, ports, host-side objects, records). Connections and
attachments that Docker itself made through the plugin are Docker's business and never touched.
"""

from __future__ import annotations

from wirework.attachments import persist, records
from wirework.attachments import restart as att_restart
from wirework.context import HostContext
from wirework.errors import GuestNotFound, GuestNotRunning, WireworkError
from wirework.ipam import Ipam
from wirework.networks import connops, endpoints
from wirework.networks.connect import validate_connect
from wirework.networks.endpoints import Endpoint


def container_started(ctx: HostContext, cid: str) -> list[str]:
    """Wire a started container again wherever it waits; one line per thing done."""
    key = f"{persist.DOCKER_KEY}{cid}"
    eps = [ep for ep in endpoints.of_guest(ctx.store, ctx.host_id, key) if ep.made_by == "wirework"]
    skip = {ep.att_id for ep in endpoints.all_endpoints(ctx.store, ctx.host_id)}
    if not eps and not att_restart.of_container(ctx, cid, skip):
        return []  # nothing of ours: no Docker call for the containers wirework never wired
    try:
        guest = ctx.resolve(key)  # once, for every attachment and connection of the container
    except (GuestNotFound, GuestNotRunning):
        return []  # stopped again already: its next start is another event
    out: list[str] = []
    for ep in eps:
        if not persist.same_run(ep.guest.netns_id, ep.guest.pid, guest.netns_id, guest.pid or 0):
            out.append(_rewire_line(ctx, ep))
    out += att_restart.reapply_container(ctx, cid, skip, guest=guest)
    if any("wired again" in line for line in out):
        out += att_restart.replay_commands(ctx, key, out[0].split(" ", 1)[0])
    return out


def container_stopped(ctx: HostContext, cid: str) -> list[str]:
    """Suspend a stopped container's wiring, or release it once the container is removed."""
    ctx.before_change()
    key = f"{persist.DOCKER_KEY}{cid}"
    state = persist.container_state(ctx, cid)[0]
    if state == "unknown":
        return []  # Docker did not answer: decide nothing
    out: list[str] = []
    eps = [ep for ep in endpoints.of_guest(ctx.store, ctx.host_id, key) if ep.made_by == "wirework"]
    if state == "removed":
        for ep in eps:
            connops.drop_endpoint(ctx, ep)
            out.append(f"{ep.guest.name} on {ep.network}: removed, released {ep.ip}")
    out += att_restart.settle_container(ctx, cid)
    return out


def endpoint_waits(ctx: HostContext, ep: Endpoint, cid: str) -> bool:
    """Whether the connection's container runs in a namespace its connection is not wired into."""
    att = records.load(ctx.store, ctx.host_id, ep.att_id)
    if att is not None:
        return persist.state_of(ctx, att) in persist.WAITING
    state, ns, pid = persist.container_state(ctx, cid)
    return state == "running" and not persist.same_run(ep.guest.netns_id, ep.guest.pid, ns, pid)


def _rewire_line(ctx: HostContext, ep: Endpoint) -> str:
    try:
        rewire(ctx, ep)
    except WireworkError as exc:
        return f"{ep.guest.name} on {ep.network}: could not be wired again: {exc}"
    return f"{ep.guest.name} on {ep.network}: guest restarted, wired again with {ep.ip}"


def rewire(ctx: HostContext, ep: Endpoint) -> None:
    """Connect the guest again as it was (its lease is kept, so the address comes back)."""
    connops.drop_endpoint(ctx, ep, release=False)
    ports = [f"{p['host_ip'] + ':' if p['host_ip'] else ''}{p['host_port']}:{p['guest_port']}/{p['proto']}" for p in ep.ports]
    ref = ep.guest.key if ep.guest.kind == "docker" else ep.guest.ref  # the id: names may change
    spec = validate_connect(ep.network, ref, ip=ep.address if ep.static else None, aliases=ep.aliases,
                            default_route=ep.default_route, publish=ports, ifname=ep.ifname, mode=ep.mode)
    try:
        connops.connect(ctx, spec)
    except WireworkError:
        Ipam(ctx.store, ctx.host_id).release(ep.network, ep.guest.key)
        raise


def waiting_containers(ctx: HostContext) -> list[str]:
    """Docker containers with wirework-made attachments or connections on this host."""
    ids = {c for a in records.all_for_host(ctx.store, ctx.host_id) if (c := persist.container_id(a))}
    ids |= {ep.guest.key[len(persist.DOCKER_KEY):] for ep in endpoints.all_endpoints(ctx.store, ctx.host_id)
            if ep.made_by == "wirework" and ep.guest.kind == "docker"}
    return sorted(ids)


def resync(ctx: HostContext) -> list[str]:
    """Every container as Docker says it is now: wired again, suspended or released."""
    out: list[str] = []
    for cid in waiting_containers(ctx):
        state = persist.container_state(ctx, cid)[0]
        if state == "running":
            out += container_started(ctx, cid)
        elif state in ("stopped", "removed"):
            out += container_stopped(ctx, cid)
    return out


def recorded_hosts(ctx: HostContext) -> list[str]:
    """Host ids ("-" for the real host, else a namespace name) with attachments or connections."""
    hosts = {e.key.split("/", 2)[1] for prefix in (records.PREFIX, endpoints.PREFIX) for e in ctx.store.scan(prefix)}
    return sorted(hosts)

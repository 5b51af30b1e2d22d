"""`wirework up`: converge the host to the stored definitions (after a reboot, a firewall flush,
or a process killed half-way).

In order: each network's bridge, address and forwarding (only what is missing); each
endpoint's host side (re-enslaved to its bridge) or, for guests that are gone, its records
and lease; guests started by `wirework run` whose process ended; leases that a killed
process left behind; and finally the whole firewall in one atomic batch (`SyncFirewall`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from wirework.attachments import persist, records
from wirework.context import HostContext
from wirework.drivers.links import LinkUp, SetMaster
from wirework.errors import GuestNotFound, GuestNotRunning, NamespaceGone
from wirework.firewall.model import NetworkRules, PortMapping
from wirework.firewall.sync import apply_full_ruleset, full_ruleset
from wirework.ipam import Ipam
from wirework.model.guest import label_of
from wirework.model.host import Host
from wirework.networks import connops, endpoints, fw, modes, restart
from wirework.networks import network as nets
from wirework.networks.endpoints import Endpoint
from wirework.networks.netplan import plan_network, probe_network
from wirework.networks.network import Network
from wirework.plan.steps import Plan, Step, register


@register
@dataclass(frozen=True)
class SyncFirewall(Step):
    """Replace both wirework nftables tables with what the store defines, atomically."""

    kind = "fw_sync"
    networks: tuple[dict[str, Any], ...]  # NetworkRules fields (plain values: journaled as JSON)
    links: tuple[tuple[str, str], ...]
    mappings: tuple[dict[str, Any], ...]  # PortMapping fields

    def _model(self) -> tuple[list[NetworkRules], list[tuple[str, str]], list[PortMapping]]:
        return ([NetworkRules(**n) for n in self.networks], [(a, b) for a, b in self.links],
                [PortMapping(**m) for m in self.mappings])

    def apply(self, host: Host) -> Sequence[Step]:
        apply_full_ruleset(host, *self._model())
        if not self.networks:
            fw.delete_base_step().apply(host)  # nothing defined: no tables either
        return ()  # a re-sync replaces; there is no earlier state worth restoring

    def changes_existing(self) -> bool:
        return False  # one atomic batch, and no undo in a crash or not

    def describe(self) -> str:
        return (f"rebuild nftables tables inet/bridge wirework: {len(self.networks)} networks, "
                f"{len(self.links)} links, {len(self.mappings)} published ports (one atomic batch)")

    def commands(self) -> list[str]:
        return [f"nft -j -f - <<< '{{\"nftables\": [... {len(full_ruleset(*self._model()))} commands ...]}}'"]


def up(ctx: HostContext, *, no_sysctl: bool = False, dry_run: bool = False) -> list[str]:
    report: list[str] = []
    networks = nets.all_networks(ctx.store, ctx.host_id)
    forwarding = False
    for net in networks:
        plan = plan_network(net, probe_network(ctx.host, net), no_sysctl=no_sysctl, firewall=False)
        # One host-wide switch: said once, not once per network that needs it.
        own = [s for s in plan.steps if not fw.is_forwarding_step(s)]
        if len(own) < len(plan.steps) and not forwarding:
            forwarding = True
            report.append(next(s for s in plan.steps if fw.is_forwarding_step(s)).describe())
        if own:
            report.append(f"network {net.name}: " + "; ".join(s.describe() for s in own))
        if plan.steps and not dry_run:
            ctx.executor().run(plan)
    report += _runs(ctx) if not dry_run else []
    report += _endpoints(ctx, networks, dry_run)
    if not dry_run:
        report += restart.resync(ctx)  # attachments of containers that restarted meanwhile
        report += _sweep(ctx, networks)
    sync = sync_step(ctx)
    report.append(sync.describe())
    if not dry_run:
        ctx.executor().run(Plan("up", "firewall", (sync,)))
    return report


def sync_step(ctx: HostContext) -> SyncFirewall:
    networks = nets.all_networks(ctx.store, ctx.host_id)
    eps = endpoints.all_endpoints(ctx.store, ctx.host_id)
    return SyncFirewall(tuple(asdict(fw.rules_of(n)) for n in networks), tuple(nets.all_links(ctx.store, ctx.host_id)),
                        tuple(dict(p) for ep in eps for p in ep.ports))


def _runs(ctx: HostContext) -> list[str]:
    out = []
    for rec in modes.all_runs(ctx):
        if not rec.alive():
            modes.remove(ctx, rec.name)
            out.append(f"guest {rec.name} ({rec.mode}) had exited: removed its namespace and connections")
    return out


def _endpoints(ctx: HostContext, networks: list[Network], dry_run: bool) -> list[str]:
    by_name = {n.name: n for n in networks}
    out = []
    for ep in endpoints.all_endpoints(ctx.store, ctx.host_id):
        net = by_name.get(ep.network)
        state = guest_state(ctx, ep)
        if state == "stopped":
            continue  # its container will start again: keep the address and the records
        if net is None or state == "gone":
            errors = [] if dry_run else connops.drop_endpoint(ctx, ep)
            out.append(f"{ep.guest.name} on {ep.network}: guest gone, " + (
                f"but its teardown left: {'; '.join(errors)} (records kept: run 'wirework up' again)" if errors
                else "records and lease released"))
        elif state == "restarted":
            out.append(f"{ep.guest.name} on {ep.network}: guest restarted, wired again with {ep.ip}")
            if not dry_run:
                restart.rewire(ctx, ep)
        else:
            steps = _host_side(ctx, ep, net)
            if steps and not dry_run:
                ctx.executor().run(Plan("up", f"att:{ep.att_id}", tuple(steps)))
            out += [f"{ep.guest.name} on {ep.network}: {s.describe()}" for s in steps]
    return out


def guest_state(ctx: HostContext, ep: Endpoint) -> str:
    """"ok", "restarted" (a new namespace: wire it again), "gone" (removed, ended) or, for a Docker
    container, "stopped" (kept: it is wired again when it starts); "docker" for the endpoints
    Docker made through the plugin (Docker removes them)."""
    if ep.made_by == "docker":
        return "docker"
    if ep.guest.kind == "docker":
        state, ns, pid = persist.container_state(ctx, ep.guest.key[len(persist.DOCKER_KEY):])
        if state == "running":
            return "ok" if persist.same_run(ep.guest.netns_id, ep.guest.pid, ns, pid) else "restarted"
        return {"removed": "gone", "unknown": "ok"}.get(state, "stopped")
    try:
        g = ctx.resolve(ep.guest.ref)
    except (GuestNotFound, GuestNotRunning, NamespaceGone):
        return "gone"
    if g.key != ep.guest.key:
        return "gone"
    return "ok" if g.netns_id == ep.guest.netns_id else "restarted"


def _host_side(ctx: HostContext, ep: Endpoint, net: Network) -> list[Step]:
    att = records.load(ctx.store, ctx.host_id, ep.att_id)
    if att is None or not att.host_ifname:
        return []
    link = ctx.host.net.link(att.host_ifname)
    bridge = ctx.host.net.link(net.bridge)
    if link is None or bridge is None:
        return []
    steps: list[Step] = []
    if link.master != bridge.index:
        steps.append(SetMaster(att.host_ifname, net.bridge))
    if not link.up:
        steps.append(LinkUp(att.host_ifname))
    return steps


def _sweep(ctx: HostContext, networks: list[Network]) -> list[str]:
    out = []
    ipam = Ipam(ctx.store, ctx.host_id)
    for net in networks:
        holders = endpoints.lease_holders(ctx.store, ctx.host_id, net.name)
        for lease in ipam.sweep(net.name, lambda owner, h=holders: endpoints.held(owner, h)):  # type: ignore[misc]
            out.append(f"lease {lease.ip} on {net.name} of {label_of(lease.owner)}: left by a killed process, released")
    return out

"""Network operations of a session: create, remove, link, list, inspect.

Each follows the one flow: validated spec -> probe -> plan (`networks.netplan`) -> executor,
with the network record written in the transaction that closes the journal.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from wirework.context import HostContext
from wirework.errors import Conflict, InvalidInput, StepFailed
from wirework.ipam import Ipam
from wirework.networks import endpoints, fw
from wirework.networks import network as nets
from wirework.networks.netplan import plan_network, plan_remove_network, probe_network
from wirework.networks.network import Network, NetworkSpec
from wirework.networks.subnets.occupancy import probe_occupied
from wirework.networks.subnets.pools import DEFAULT_POOLS, check_subnet, parse_pools, pick_subnet
from wirework.plan.executor import run_best_effort
from wirework.plan.steps import Plan
from wirework.store.base import Delete, Op, Put


@dataclass(frozen=True)
class CreateResult:
    network: Network
    plan: Plan
    changed: bool
    skipped: tuple[tuple[str, str], ...] = ()  # candidate subnets passed over, and why
    notes: tuple[str, ...] = field(default=())
    existed: bool = False  # a repeated create: the network was there (changed: it was repaired)


def pools_from(pools: str | None) -> str:
    return pools or DEFAULT_POOLS  # the API layer fills in WIREWORK_ADDRESS_POOLS


def create(ctx: HostContext, spec: NetworkSpec, *, force: bool = False, dry_run: bool = False,
           no_sysctl: bool = False, pools: str | None = None, root: str = "/",
           origin: dict[str, Any] | None = None) -> CreateResult:
    """Create a network; `origin` sets who made it (`made_by`, `docker_id`) on its record."""
    ctx.before_change(dry_run)
    existing = nets.load(ctx.store, ctx.host_id, spec.name)
    if existing is not None:
        return _converge(ctx, existing, spec, dry_run=dry_run, no_sysctl=no_sysctl)
    _check_bridge_unused(ctx, spec)
    occupied = probe_occupied(ctx.host, ctx.store, ctx.host_id, ctx.docker, root=root, exclude_bridge=spec.bridge,
                              exclude_net=spec.name)
    skipped: tuple[tuple[str, str], ...] = ()
    notes: list[str] = []
    if spec.subnet is not None:
        notes += check_subnet(ipaddress.ip_network(spec.subnet), occupied, force)
        subnet = spec.subnet
    else:
        choice = pick_subnet(parse_pools(pools_from(pools)), occupied)
        subnet, skipped = choice.subnet, choice.skipped
    net = replace(nets.settle(spec, ctx.host_id, subnet), **(origin or {}))
    plan = plan_network(net, probe_network(ctx.host, net), no_sysctl=no_sysctl)
    if not dry_run:
        ctx.executor().run(plan, lambda undo: [nets.put_op(net)])
    return CreateResult(net, plan, True, skipped, tuple(notes) + plan.notes)


def _check_bridge_unused(ctx: HostContext, spec: NetworkSpec) -> None:
    for other in nets.all_networks(ctx.store, ctx.host_id):
        if other.bridge == spec.bridge:
            raise Conflict(f"bridge {spec.bridge} already belongs to network {other.name}; choose another --bridge")


def _converge(ctx: HostContext, net: Network, spec: NetworkSpec, *, dry_run: bool, no_sysctl: bool) -> CreateResult:
    """A repeated create: the same definition completes what is missing; another is refused."""
    wanted = nets.settle(spec, ctx.host_id, spec.subnet or net.subnet)
    if not nets.same_definition(wanted, net):
        raise Conflict(f"network {net.name} already exists with subnet {net.subnet} on bridge {net.bridge} "
                       f"and other options; remove it first ('wirework network rm {net.name}') or pick another name")
    plan = plan_network(net, probe_network(ctx.host, net), no_sysctl=no_sysctl)
    # The firewall steps are always planned (they verify); whether anything changed is the undo.
    undo = ctx.executor().run(plan) if plan.steps and not dry_run else []
    return CreateResult(net, plan, bool(undo), (), plan.notes, existed=True)


def ensure_default(ctx: HostContext, *, no_sysctl: bool = False) -> Network:
    net = nets.load(ctx.store, ctx.host_id, nets.DEFAULT_NETWORK)
    if net is not None:
        return net
    return create(ctx, nets.validate_network(nets.DEFAULT_NETWORK), no_sysctl=no_sysctl).network


def _removable(ctx: HostContext, name: str, force: bool, cluster: bool = False, docker: bool = False
               ) -> tuple[Network, list[endpoints.Endpoint]]:
    net = nets.require(ctx.store, ctx.host_id, name)
    if net.driver and not cluster:
        raise Conflict(f"network {name} is a cluster network ({net.driver}, {net.cluster_cidr}) that this host's agent "
                       f"manages; remove it for the whole cluster with 'wirework network rm {name} --store URL'")
    if net.made_by == "docker" and not docker:
        raise Conflict(f"network {net.display_name} was made by Docker; remove it with "
                       f"'docker network rm {net.display_name}'")
    name = net.name
    eps = endpoints.on_network(ctx.store, ctx.host_id, name)
    if eps and not force:
        names = ", ".join(sorted(ep.guest.name for ep in eps)[:5])
        raise Conflict(f"network {name} still has {len(eps)} guest(s) attached ({names}); "
                       f"disconnect them first ('wirework disconnect {name} GUEST') or add --force")
    return net, eps


def plan_remove(ctx: HostContext, name: str, *, force: bool = False, detach_plan: Any = None) -> Plan:
    """What `remove` would do (--dry-run): each guest's disconnect (`detach_plan(endpoint)`),
    then the network's firewall rules, address and bridge."""
    net, eps = _removable(ctx, name, force)
    plan = plan_remove_network(net, _linked(ctx, net.name))
    before = [s for ep in eps for s in detach_plan(ep).steps] if detach_plan else []
    return Plan(plan.operation, plan.owner, (*before, *plan.steps))


def remove(ctx: HostContext, name: str, *, force: bool = False, detach: Any = None, cluster: bool = False,
           docker: bool = False) -> Network:
    """Remove a network; refused while guests are attached unless `force` (then they are
    disconnected first through `detach(endpoint)`). A cluster network's local part is its
    agent's (`cluster=True`): the user removes the network cluster-wide instead. A network
    Docker made is removed only through Docker (`docker`: the plugin's DeleteNetwork)."""
    ctx.before_change()
    net, eps = _removable(ctx, name, force, cluster, docker)
    name = net.name
    for ep in eps:
        detach(ep)
    linked = _linked(ctx, name)
    errors = run_best_effort(ctx.host, plan_remove_network(net, linked).steps)
    ops: list[Op] = [nets.delete_op(net), *(Delete(nets.link_key(ctx.host_id, name, o.name)) for o in linked)]
    ctx.store.txn([], ops)
    Ipam(ctx.store, ctx.host_id).drop_network(name)
    if errors:
        raise StepFailed(f"network {name} was removed, but teardown left: " + "; ".join(errors)
                         + " (run 'wirework doctor')")
    return net


def _linked(ctx: HostContext, name: str) -> list[Network]:
    others = {n.name: n for n in nets.all_networks(ctx.store, ctx.host_id)}
    pairs = nets.all_links(ctx.store, ctx.host_id)
    return [others[b if a == name else a] for a, b in pairs if name in (a, b) and (b if a == name else a) in others]


def link(ctx: HostContext, a: str, b: str, *, unlink: bool = False, dry_run: bool = False) -> Plan:
    if a == b:
        raise InvalidInput(what="network link", value=f"{a} {b}", why="name two different networks")
    ctx.before_change(dry_run)
    na, nb = nets.require(ctx.store, ctx.host_id, a), nets.require(ctx.store, ctx.host_id, b)
    a, b = na.name, nb.name  # a Docker-made network may be named as Docker knows it
    key = nets.link_key(ctx.host_id, a, b)
    present = ctx.store.get(key) is not None
    if present != unlink:
        return Plan("network-unlink" if unlink else "network-link", f"netlink:{a}:{b}", ())
    steps = fw.unlink_steps(na, [nb]) if unlink else fw.link_steps(na, nb)
    plan = Plan("network-unlink" if unlink else "network-link", f"netlink:{a}:{b}", tuple(steps))
    if dry_run:
        return plan
    op: Op = Delete(key) if unlink else Put(key, {"a": min(a, b), "b": max(a, b)})
    if unlink:
        run_best_effort(ctx.host, plan.steps)
        ctx.store.txn([], [op])
    else:
        ctx.executor().run(plan, lambda undo: [op])
    return plan


def listing(ctx: HostContext) -> list[dict[str, Any]]:
    eps = endpoints.all_endpoints(ctx.store, ctx.host_id)
    out = []
    for net in nets.all_networks(ctx.store, ctx.host_id):
        link_info = ctx.host.net.link(net.bridge)
        out.append({**net.to_dict(), "guests": sum(1 for e in eps if e.network == net.name),
                    "state": "up" if link_info and link_info.up else "missing" if link_info is None else "down"})
    return out


def inspect(ctx: HostContext, name: str) -> dict[str, Any]:
    net = nets.require(ctx.store, ctx.host_id, name)
    name = net.name
    guests = [_endpoint_view(ep) for ep in endpoints.on_network(ctx.store, ctx.host_id, name)]
    linked = [n.name for n in _linked(ctx, name)]
    leases = Ipam(ctx.store, ctx.host_id).leases(name)
    return {**net.to_dict(), "links": linked, "guests": guests,
            "leases": [{"ip": lease.ip, "owner": lease.owner, "static": lease.static} for lease in leases]}


def _endpoint_view(ep: endpoints.Endpoint) -> dict[str, Any]:
    from wirework.firewall.model import PortMapping

    return {"guest": ep.guest.name, "key": ep.guest.key, "mode": ep.mode or ep.guest.mode, "ifname": ep.ifname,
            "ip": ep.ip, "default_route": ep.default_route, "static": ep.static, "aliases": list(ep.aliases),
            "ports": [PortMapping(**p).text() for p in ep.ports], "made_by": ep.made_by}


def guests_of(ctx: HostContext, names: Sequence[str]) -> list[endpoints.Endpoint]:
    return [ep for n in names for ep in endpoints.on_network(ctx.store, ctx.host_id, n)]

"""Connecting and disconnecting guests: one plan per connect (veth, address, routes, ports).

The address comes from `wirework.ipam` before the plan runs, taken for this operation (its
id, pid and start time): a concurrent connect of the same guest is refused instead of sharing
it, a failed run releases it only while this operation still holds it, and the commit that
records the endpoint settles it. A run killed mid-way leaves a lease whose operation is dead,
which a repeated connect of the same guest reuses and `wirework up` reclaims.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from wirework.attachments import ops as attachments
from wirework.attachments import records
from wirework.attachments.attach import AttachFacts, check_attach, plan_attach, probe_attach
from wirework.context import HostContext
from wirework.drivers.bridgeports import SetHairpin
from wirework.errors import Conflict, GuestNotFound, GuestNotRunning, InvalidInput, NotFound, StepFailed
from wirework.firewall.model import PortMapping
from wirework.ipam import Ipam, Lease
from wirework.model.guest import Guest
from wirework.model.specs import AttachSpec
from wirework.naming import host_veth_name
from wirework.networks import endpoints, fw, netops
from wirework.networks import network as nets
from wirework.networks.connect import (
    ConnectSpec,
    attach_spec,
    bound_ports,
    check_guest_mode,
    check_ports,
    choose_ifname,
    no_way_back_note,
    same_request,
    wants_default_route,
)
from wirework.networks.endpoints import Endpoint
from wirework.networks.hostports import listening_ports
from wirework.networks.netplan import IP_FORWARD, forwarding_steps
from wirework.networks.network import Network
from wirework.plan.executor import run_best_effort
from wirework.plan.journal import operation
from wirework.plan.steps import Plan, Step
from wirework.store.base import Compare, Op


@dataclass(frozen=True)
class ConnectResult:
    endpoint: Endpoint
    plan: Plan
    changed: bool


def network_for(ctx: HostContext, name: str, *, no_sysctl: bool = False, guest: str | None = None,
                dry_run: bool = False) -> Network:
    if name == nets.DEFAULT_NETWORK:
        if dry_run and nets.load(ctx.store, ctx.host_id, name) is None:
            # A dry run changes nothing, and a connect's plan needs the bridge to probe.
            raise NotFound(f"the default network {name} does not exist yet: the first real connect or run makes it "
                           f"(what that does: 'wirework network create {name} --dry-run')")
        return netops.ensure_default(ctx, no_sysctl=no_sysctl)
    net = nets.load(ctx.store, ctx.host_id, name)
    if net is not None:
        return net
    if guest is not None and nets.load(ctx.store, ctx.host_id, guest) is not None:
        raise InvalidInput(what="arguments", value=f"{name} {guest}",
                           why=f"{guest} is a network and {name} is not: the network comes first "
                               f"(wirework connect {guest} {name})")
    raise nets.missing(ctx.store, ctx.host_id, name)


def connect(ctx: HostContext, spec: ConnectSpec, *, dry_run: bool = False) -> ConnectResult:
    ctx.before_change(dry_run)
    net = network_for(ctx, spec.network, no_sysctl=spec.no_sysctl, guest=spec.guest, dry_run=dry_run)
    g = ctx.resolve(spec.guest)
    check_guest_mode(g)
    ep = endpoints.load(ctx.store, ctx.host_id, net.name, g.key)
    if ep is not None:
        if _alive(ctx, ep, g):
            if same_request(ep, spec):
                return ConnectResult(ep, Plan("connect", f"att:{ep.att_id}", ()), False)
            raise Conflict(f"guest {g.name} is already connected to {net.name} ({ep.ip} on {ep.ifname}) with other "
                           f"options; run 'wirework disconnect {net.name} {spec.guest}' first")
        drop_endpoint(ctx, ep, release=False)  # it restarted: rewire it, with the same address
    routes = ctx.host.net.routes(g.netns_path, table=254)
    has_default = any(r.dst == "default" and ":" not in r.gateway for r in routes)
    spec = replace(spec, default_route=wants_default_route(spec, has_default, ep))
    return _connect_new(ctx, spec, net, g, dry_run)


@dataclass(frozen=True)
class _Prepared:
    ifname: str
    facts: AttachFacts
    sysctl: list[Step]
    notes: list[str]


def _prepare(ctx: HostContext, spec: ConnectSpec, net: Network, g: Guest) -> _Prepared:
    """Every check that can refuse the connect, before an address is taken or anything made."""
    existing = [link.name for link in ctx.host.net.links(g.netns_path)] if spec.ifname is None else []
    ifname = choose_ifname(existing, [], spec.ifname)
    if spec.ip is not None:
        net.addresses().check_static(spec.ip)
    probe_spec = replace(attach_spec(spec, net, g, ifname, net.gateway), cidr=None)  # the address comes later
    facts = probe_attach(ctx.host, probe_spec, g, [])
    check_attach(probe_spec, facts)
    ports = bound_ports(spec, net, "0.0.0.0", f"att:{facts.att_id}")
    if ports:
        others = [e for e in endpoints.all_endpoints(ctx.store, ctx.host_id) if e.guest.key != g.key]
        check_ports(others, ports, listening_ports(ctx.host.netns))
    sysctl, notes = forwarding_steps(net, ctx.host.sysctl.get(IP_FORWARD), spec.no_sysctl)
    if ports and not spec.default_route:
        notes += _no_way_back(ctx, g, net, ports)
    return _Prepared(ifname, facts, sysctl, notes)


def _no_way_back(ctx: HostContext, g: Guest, net: Network, ports: list[PortMapping]) -> list[str]:
    """Published ports on a guest with no default route answer only the subnets it reaches."""
    routes = ctx.host.net.routes(g.netns_path, table=254)
    if any(r.dst == "default" and ":" not in r.gateway for r in routes):
        return []
    on_link = {r.dst for r in routes if r.dst != "default" and ":" not in r.dst and r.scope == 253}
    reach = [net.subnet, *sorted(on_link - {net.subnet})]
    note = no_way_back_note(g, ports, reach)
    return [note] if note else []


def _connect_new(ctx: HostContext, spec: ConnectSpec, net: Network, g: Guest, dry_run: bool) -> ConnectResult:
    prep = _prepare(ctx, spec, net, g)
    ipam = Ipam(ctx.store, ctx.host_id)
    held = ipam.lease_of(net.name, g.key)
    if dry_run:
        ip = held.ip if held else spec.ip or "(next free address)"
        return ConnectResult(_endpoint(spec, net, g, prep, ip, [])[0], _plan(spec, net, g, prep, ip)[0], True)
    with operation() as op:
        lease = ipam.allocate(net.addresses(), g.key, spec.ip, op=op)
        try:
            _not_connected_meanwhile(ctx, net, g)
            return _run(ctx, spec, net, g, prep, lease, op)
        except BaseException:
            ipam.release_own(net.name, g.key, op)  # never a lease a concurrent connect holds
            raise


def _not_connected_meanwhile(ctx: HostContext, net: Network, g: Guest) -> None:
    """A concurrent connect of the same guest that finished before our lease was taken."""
    ep = endpoints.load(ctx.store, ctx.host_id, net.name, g.key)
    if ep is not None:
        raise Conflict(f"guest {g.name} was connected to {net.name} ({ep.ip} on {ep.ifname}) by another process "
                       f"meanwhile; run 'wirework disconnect {net.name} {g.name}' first to connect it again")


def _plan(spec: ConnectSpec, net: Network, g: Guest, prep: _Prepared, ip: str) -> tuple[Plan, AttachSpec, list[PortMapping]]:
    aspec = attach_spec(spec, net, g, prep.ifname, ip if "(" not in ip else net.gateway)
    ports = bound_ports(spec, net, ip, f"att:{prep.facts.att_id}")
    # A guest with published ports may reach them through a host address itself: hairpin mode on
    # its bridge port (only there: hairpin also reflects the guest's own broadcasts back to it).
    hairpin = [SetHairpin(host_veth_name(prep.facts.att_id), True, fresh=True)] if ports else []
    head = [*hairpin, *fw.publish_steps(ports)]
    extra = Plan("connect", "", (*head, *prep.sysctl), tuple(prep.notes),
                 tuple(range(len(head), len(head) + len(prep.sysctl))))
    return replace(plan_attach(aspec, prep.facts) + extra, operation="connect"), aspec, ports


def _endpoint(spec: ConnectSpec, net: Network, g: Guest, prep: _Prepared, ip: str,
              ports: list[PortMapping]) -> tuple[Endpoint, str]:
    cidr = f"{ip}/{net.addresses().prefixlen}"
    ep = Endpoint(network=net.name, host=net.host, guest=g, att_id=prep.facts.att_id, ifname=prep.ifname, ip=cidr,
                  default_route=bool(spec.default_route), static=spec.ip is not None, aliases=spec.aliases,
                  ports=tuple(port_dict(m) for m in ports), mode=spec.mode or g.mode)
    return ep, cidr


def _run(ctx: HostContext, spec: ConnectSpec, net: Network, g: Guest, prep: _Prepared, lease: Lease,
         op: str) -> ConnectResult:
    plan, aspec, ports = _plan(spec, net, g, prep, lease.ip)
    ep, _ = _endpoint(spec, net, g, prep, lease.ip, ports)

    def commit(undo: list[Step]) -> list[Op | Compare]:
        att = attachments.make_record(ctx, aspec, prep.facts, g, [s for s in undo if not fw.is_firewall_step(s)])
        settle = Ipam(ctx.store, ctx.host_id).settle_op(net.name, lease)
        # Compare: still not connected (else the executor rolls this wiring back).
        return [Compare(ep.key, 0), *attachments.record_ops(ctx, att), endpoints.put_op(ep), settle,
                *_default_route_moves(ctx, ep)]

    ctx.executor().run(plan, commit, op=op)
    return ConnectResult(ep, plan, True)


def port_dict(m: PortMapping) -> dict[str, Any]:
    return {"network": m.network, "guest_ip": m.guest_ip, "proto": m.proto, "host_port": m.host_port,
            "guest_port": m.guest_port, "host_ip": m.host_ip, "owner": m.owner}


def _default_route_moves(ctx: HostContext, ep: Endpoint) -> list[Op]:
    """The guest's default route now goes through `ep`: the others no longer give it."""
    if not ep.default_route:
        return []
    return [endpoints.put_op(replace(o, default_route=False)) for o in endpoints.of_guest(ctx.store, ctx.host_id, ep.guest.key)
            if o.network != ep.network and o.default_route]


def _alive(ctx: HostContext, ep: Endpoint, g: Guest) -> bool:
    att = records.load(ctx.store, ctx.host_id, ep.att_id)
    return (att is not None and att.guest.netns_id == g.netns_id
            and ctx.host.net.link(ep.ifname, g.netns_path) is not None)


def mappings(ep: Endpoint) -> list[PortMapping]:
    return [PortMapping(**p) for p in ep.ports]


def mappings_text(ep: Endpoint) -> list[str]:
    return [m.text() for m in mappings(ep)]


def drop_endpoint(ctx: HostContext, ep: Endpoint, *, release: bool = True) -> list[str]:
    """Best-effort teardown of one endpoint: ports first, then the veth; then its records,
    which are kept (with the lease) while anything is left, so that a retry finishes it."""
    errors = run_best_effort(ctx.host, fw.unpublish_steps(mappings(ep)))
    att = records.load(ctx.store, ctx.host_id, ep.att_id)
    if att is not None:
        try:
            attachments.teardown(ctx, att, attachments.ns_id_now(att))
        except Exception as exc:
            errors.append(str(exc))
    if errors:
        return errors
    ctx.store.txn([], [endpoints.delete_op(ep)])
    if release:
        Ipam(ctx.store, ctx.host_id).release(ep.network, ep.owner_of_lease)
    return errors


def endpoint_plan(ctx: HostContext, ep: Endpoint) -> Plan:
    """What dropping an endpoint would do: its ports, then its attachment's teardown."""
    att = records.load(ctx.store, ctx.host_id, ep.att_id)
    detach = attachments.detach_plan(ctx, att) if att is not None else Plan("disconnect", "", ())
    return Plan("disconnect", f"{ep.guest.name}@{ep.network}",
                (*fw.unpublish_steps(mappings(ep)), *detach.steps))


def disconnect(ctx: HostContext, network: str, guest: str) -> Endpoint | None:
    """Disconnect a guest (running or gone) from a network; disconnecting twice is fine.
    An unknown guest (neither running nor ever connected there) is an error naming near names."""
    ctx.before_change()
    net = nets.require(ctx.store, ctx.host_id, network)
    ep = _connected(ctx, net.name, guest)
    if ep is None:
        return None
    if ep.made_by == "docker":
        raise Conflict(f"{ep.guest.name} was connected to {net.display_name} by Docker; "
                       f"run 'docker network disconnect {net.display_name} {ep.guest.name}' instead")
    errors = drop_endpoint(ctx, ep)
    if errors:
        raise StepFailed(f"disconnect of {ep.guest.name} from {net.display_name} left: " + "; ".join(errors)
                         + "; its records are kept: run it again once that is fixed")
    return ep


def plan_disconnect(ctx: HostContext, network: str, guest: str) -> Plan:
    ep = _connected(ctx, network, guest)
    return endpoint_plan(ctx, ep) if ep is not None else Plan("disconnect", guest, ())


def _connected(ctx: HostContext, network: str, guest: str) -> Endpoint | None:
    network = nets.require(ctx.store, ctx.host_id, network).name  # (or the name Docker knows it by)
    ep = find_endpoint(ctx, network, guest)
    if ep is None:
        ctx.resolve(guest)  # not connected: fine for a guest that exists, an error for a typo
    return ep


def find_endpoint(ctx: HostContext, network: str, guest: str) -> Endpoint | None:
    try:
        g = ctx.resolve(guest)
        found = endpoints.load(ctx.store, ctx.host_id, network, g.key)
        if found is None and g.kind == "docker":  # the endpoint Docker made for it, if any
            cid = g.key.split(":", 1)[1]
            found = next((e for e in endpoints.on_network(ctx.store, ctx.host_id, network)
                          if e.made_by == "docker" and e.guest.ref == cid), None)
        return found
    except (GuestNotFound, GuestNotRunning):
        for ep in endpoints.on_network(ctx.store, ctx.host_id, network):
            if guest in (ep.guest.ref, ep.guest.name, ep.guest.key):
                return ep
    return None


def ports_of(ctx: HostContext, guest: str) -> list[PortMapping]:
    """The guest's published ports; an unknown guest (not running, never connected) is an error."""
    try:
        g = ctx.resolve(guest)
        eps = endpoints.of_guest(ctx.store, ctx.host_id, g.key)
        if g.kind == "docker":  # and the endpoints Docker made for it through the plugin
            cid = g.key.split(":", 1)[1]
            eps += [e for e in endpoints.all_endpoints(ctx.store, ctx.host_id) if e.made_by == "docker" and e.guest.ref == cid]
    except (GuestNotFound, GuestNotRunning):
        eps = [e for e in endpoints.all_endpoints(ctx.store, ctx.host_id) if guest in (e.guest.name, e.guest.ref)]
        if not eps:
            raise
    return [m for ep in eps for m in mappings(ep)]

"""The one place that turns a cluster network's desired state into a plan for this host.

Desired state: the definition, this host's subnet record and the peers' records. The plan:
first the materialised bridge network (`networks.netplan`: bridge, gateway, forwarding,
firewall — only what is missing), then the data plane's diff. The agent calls this on every
change it sees; a plan with no steps means the host already matches.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from wirework.cluster import dataplane
from wirework.cluster.dataplane.base import Local, mtu_for
from wirework.cluster.model import ClusterNetwork, HostSubnet
from wirework.errors import InvalidInput, NotFound
from wirework.firewall.render import fingerprint
from wirework.firewall.state import registry
from wirework.model.host import Host, LinkInfo
from wirework.networks import network as nets
from wirework.networks.fw import rules_of
from wirework.networks.netplan import plan_network, probe_network
from wirework.networks.network import Network
from wirework.plan.steps import Plan, Step


@dataclass(frozen=True)
class Desired:
    net: ClusterNetwork
    me: HostSubnet
    peers: tuple[HostSubnet, ...] = ()


@dataclass(frozen=True)
class Known:
    """What this host's kernel holds for a network once a plan ran: the next change is planned
    from it instead of probing the kernel again (the agent probes afresh now and then)."""

    key: tuple[object, ...]  # what settled it: the definition and this host's record
    local: Local
    record: Network
    facts: Any  # the data plane's facts after the plan


@dataclass(frozen=True)
class Converged:
    plan: Plan
    network: Network  # the materialised network's record (written when the plan commits)
    local: Local
    problems: tuple[str, ...] = field(default=())
    known: Known | None = None  # the host once this plan has run (None: probe next time)


def _key(desired: Desired) -> tuple[object, ...]:
    me = desired.me
    return (desired.net.definition(), me.subnet, me.public_ip, me.vtep_mac)


def underlay_link(host: Host, public_ip: str) -> LinkInfo:
    """The device holding the host's public address (the tunnels' underlay)."""
    dev = next((a.ifname for a in host.net.addresses(v4_only=True) if a.cidr.split("/")[0] == public_ip), None)
    link = host.net.link(dev) if dev else None
    if link is None:
        raise NotFound(what="public IP", name=public_ip,
                       fix="it is not an address of this host; give the host's underlay address with --public-ip")
    return link


def settle(host: Host, desired: Desired, local_host: str) -> tuple[Local, Network]:
    """This host's view of the network: its MTU over this underlay, the materialised record."""
    net, me = desired.net, desired.me
    plane = dataplane.get(net.driver)
    underlay = underlay_link(host, me.public_ip)
    mtu = mtu_for(net, underlay.mtu, plane.overhead(net))
    bridge = nets.bridge_name(net.name)
    local = Local(net, me, bridge, mtu, underlay.name)
    record = Network(name=net.name, host=local_host, bridge=bridge, subnet=me.subnet, gateway=me.gateway, mtu=mtu,
                     created=me.since, driver=net.driver, cluster_cidr=net.subnet)
    return local, record


def plan_host(host: Host, desired: Desired, local_host: str, known: Known | None = None) -> Converged:
    """Probe (or take what is known), then plan the bridge network and the data plane's diff."""
    plane = dataplane.get(desired.net.driver)
    key = _key(desired)
    if known is not None and known.key == key:
        local, record, base, facts = known.local, known.record, Plan("cluster-converge", "", ()), known.facts
    else:
        local, record = settle(host, desired, local_host)
        # The firewall steps make no change when the network's rules are in place: leave them
        # out then, so that a host in line with the cluster plans nothing at all.
        rules_missing = registry(host).get(record.bridge) != fingerprint(rules_of(record))
        base = plan_network(record, probe_network(host, record), firewall=rules_missing)
        facts = plane.probe(host, local)
    peers = list(desired.peers)
    planned = plane.plan(local, peers, facts)
    steps: tuple[Step, ...] = base.steps + tuple(planned.steps)
    plan = Plan("cluster-converge", local.owner, steps, base.notes, base.lasting)
    after = plane.expect(local, peers, facts)
    return Converged(plan, record, local, tuple(planned.problems), Known(key, local, record, after) if after else None)


def plan_leave(host: Host, desired: Desired, local_host: str) -> list[Step]:
    """The data plane's teardown (the bridge network goes with `networks.netops.remove`)."""
    try:
        local, _ = settle(host, desired, local_host)
    except (NotFound, InvalidInput):
        # The public address moved away: name the devices without it (teardown is tag-checked).
        local = Local(desired.net, desired.me, nets.bridge_name(desired.net.name), 1500, "")
    plane = dataplane.get(desired.net.driver)
    return plane.teardown(local, plane.probe(host, local))


def detect_public_ip(host: Host) -> str:
    """The source of the default route, else the only global IPv4 address of the host."""
    routes = [r for r in host.net.routes(table=254) if r.dst == "default" and ":" not in (r.gateway or r.src)]
    for r in sorted(routes, key=lambda r: r.metric):
        if r.src:
            return r.src
        found = [a.cidr.split("/")[0] for a in host.net.addresses(ifname=r.dev, v4_only=True)] if r.dev else []
        if found:
            return found[0]
    candidates = [ip for ip, dev in ((a.cidr.split("/")[0], a.ifname) for a in host.net.addresses(v4_only=True))
                  if not dev.startswith("ww") and not ipaddress.IPv4Address(ip).is_loopback
                  and not ipaddress.IPv4Address(ip).is_link_local]
    if len(candidates) == 1:
        return candidates[0]
    why = "it has no IPv4 address" if not candidates else f"it has several ({', '.join(candidates[:4])})"
    raise InvalidInput(what="public IP", value="", why=f"this host has no default route and {why}; give --public-ip")

"""Plans for a network's kernel side: its bridge, gateway address, forwarding and firewall.

`probe_network` reads what exists; `plan_network` adds only what is missing, so the same
plan serves `network create`, a repeated create after a crash, and `wirework up` after a
reboot. `plan_remove_network` is best-effort teardown: firewall first, bridge last.
"""

from __future__ import annotations

from dataclasses import dataclass

from wirework.drivers.links import AddAddress, CreateBridge, DelAddress, DeleteLink, LinkUp, SetMtu
from wirework.drivers.switch import EnsureForwardAccept, RemoveForwardAccept, SetSysctl
from wirework.errors import Conflict, Unsupported
from wirework.model.host import Host, LinkInfo
from wirework.naming import owner_of
from wirework.networks import fw
from wirework.networks.network import Network
from wirework.plan.steps import Plan, Step

IP_FORWARD = "net.ipv4.ip_forward"


@dataclass(frozen=True)
class NetworkFacts:
    bridge: LinkInfo | None
    bridge_addrs: tuple[str, ...]
    ip_forward: str | None
    forward_blocked: bool  # iptables FORWARD policy DROP (Docker) on the real host


def probe_network(host: Host, net: Network) -> NetworkFacts:
    link = host.net.link(net.bridge)
    addrs = tuple(a.cidr for a in host.net.addresses(ifname=net.bridge)) if link else ()
    blocked = host.netns is None and host.fw.forward_blocked()
    return NetworkFacts(link, addrs, host.sysctl.get(IP_FORWARD), blocked)


def check_bridge(net: Network, facts: NetworkFacts) -> None:
    """An existing interface by the bridge's name must be this network's bridge."""
    link = facts.bridge
    if link is None:
        return
    if link.kind != "bridge" or owner_of(link.alias) != net.owner:
        what = f"a {link.kind or 'physical'} interface" if link.kind != "bridge" else "a bridge wirework does not own"
        raise Conflict(f"interface {net.bridge!r} already exists and is {what}; "
                       f"choose another --bridge name or remove it")


def forwarding_steps(net: Network, facts: NetworkFacts, no_sysctl: bool) -> tuple[list[Step], list[str]]:
    """ip_forward on (with a notice), or a refusal under --no-sysctl; and the FORWARD accept."""
    steps: list[Step] = []
    notes: list[str] = []
    if net.nat and facts.ip_forward not in (None, "1"):
        if no_sysctl:
            raise Unsupported(feature="IPv4 forwarding", why=f"{IP_FORWARD} is 0, so guests of network {net.name} "
                              f"cannot reach beyond the host; run 'sysctl -w {IP_FORWARD}=1' or drop --no-sysctl")
        steps.append(SetSysctl(IP_FORWARD, "1"))
        notes.append(f"{IP_FORWARD} was 0: enabled it, or guests of {net.name} could not reach beyond the host")
    if facts.forward_blocked:
        steps.append(EnsureForwardAccept(net.bridge, net.owner))
        notes.append(f"iptables FORWARD policy is DROP (Docker): an accept for {net.bridge} is added to "
                     f"DOCKER-USER, tagged wirework:{net.owner}")
    return steps, notes


def plan_network(net: Network, facts: NetworkFacts, *, no_sysctl: bool = False, firewall: bool = True) -> Plan:
    """Create or complete the network's bridge, address, forwarding and firewall rules."""
    check_bridge(net, facts)
    steps: list[Step] = []
    if facts.bridge is None:
        steps.append(CreateBridge(net.bridge, net.owner, net.mtu))
    elif net.mtu and facts.bridge.mtu != net.mtu:
        steps.append(SetMtu(net.bridge, net.mtu))
    if net.gateway_cidr not in facts.bridge_addrs:
        steps.append(AddAddress(net.bridge, net.gateway_cidr))
    if facts.bridge is None or not facts.bridge.up:
        steps.append(LinkUp(net.bridge))
    fwd, notes = forwarding_steps(net, facts, no_sysctl)
    steps += fwd
    if firewall:
        steps += fw.network_steps(net)
    # Forwarding stays on (other networks and the admin may rely on it) once the network exists.
    lasting = tuple(i for i, s in enumerate(steps) if isinstance(s, SetSysctl))
    return Plan("network-create", net.owner, tuple(steps), tuple(notes), lasting)


def plan_remove_network(net: Network, linked: list[Network]) -> Plan:
    steps: list[Step] = [*fw.unlink_steps(net, linked), *fw.remove_network_steps(net),
                         RemoveForwardAccept(net.bridge, net.owner),
                         DelAddress(net.bridge, net.gateway_cidr), DeleteLink(net.bridge, None, net.owner)]
    return Plan("network-rm", net.owner, tuple(steps))

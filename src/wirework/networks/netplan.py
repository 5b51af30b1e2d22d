"""Plans for a network's kernel side: its bridge, gateway address, forwarding and firewall.

`probe_network` reads what exists; `plan_network` adds only what is missing, so the same
plan serves `network create`, a repeated create after a crash, and `wirework up` after a
reboot. `plan_remove_network` is best-effort teardown: firewall first, bridge last.
"""

from __future__ import annotations

from dataclasses import dataclass

from wirework.drivers.links import CreateBridge, DeleteLink, LinkUp, SetMtu
from wirework.drivers.routes import AddAddress, DelAddress
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


def probe_network(host: Host, net: Network) -> NetworkFacts:
    link = host.net.link(net.bridge)
    addrs = tuple(a.cidr for a in host.net.addresses(ifname=net.bridge)) if link else ()
    return NetworkFacts(link, addrs, host.sysctl.get(IP_FORWARD))


def check_bridge(net: Network, facts: NetworkFacts) -> None:
    """An existing interface by the bridge's name must be this network's bridge."""
    link = facts.bridge
    if link is None:
        return
    if link.kind != "bridge" or owner_of(link.alias) != net.owner:
        what = f"a {link.kind or 'physical'} interface" if link.kind != "bridge" else "a bridge wirework does not own"
        raise Conflict(f"interface {net.bridge!r} already exists and is {what}; "
                       f"choose another --bridge name or remove it")


def forwarding_steps(net: Network, ip_forward: str | None, no_sysctl: bool) -> tuple[list[Step], list[str]]:
    """ip_forward on (with a notice), or a refusal under --no-sysctl. (The FORWARD-policy
    accept that Docker's DROP needs comes with the network's firewall rules.)"""
    if not net.nat or ip_forward in (None, "1"):
        return [], []
    if no_sysctl:
        raise Unsupported(feature="IPv4 forwarding", why=f"{IP_FORWARD} is 0, so guests of network {net.name} "
                          f"cannot reach beyond the host; run 'sysctl -w {IP_FORWARD}=1' or drop --no-sysctl")
    return [fw.forwarding_step()], [f"{IP_FORWARD} was 0: enabled it, or guests of {net.name} "
                                    f"could not reach beyond the host"]


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
    fwd, notes = forwarding_steps(net, facts.ip_forward, no_sysctl)
    steps += fwd
    if firewall:
        steps += fw.network_steps(net)
    # Forwarding stays on (other networks and the admin may rely on it) once the network exists.
    lasting = tuple(i for i, s in enumerate(steps) if fw.is_forwarding_step(s))
    return Plan("network-create", net.owner, tuple(steps), tuple(notes), lasting)


def plan_remove_network(net: Network, linked: list[Network]) -> Plan:
    steps: list[Step] = [*fw.unlink_steps(net, linked), *fw.remove_network_steps(net),
                         DelAddress(net.bridge, net.gateway_cidr), DeleteLink(net.bridge, None, net.owner)]
    return Plan("network-rm", net.owner, tuple(steps))

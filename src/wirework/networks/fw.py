"""The networks' side of the firewall: turning network records into `wirework.firewall` steps.

The firewall layer renders nftables rules (NAT, isolation, published ports) in one
`inet wirework` table; this module is the one place that maps networks, links and
published ports onto its model, so the rest of `networks/` never builds rules itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from wirework.firewall import ports
from wirework.firewall import steps as fws
from wirework.firewall.links import LinkNetworks, UnlinkNetworks
from wirework.firewall.model import NetworkRules, PortMapping
from wirework.networks.network import Network
from wirework.plan.steps import Step


def rules_of(net: Network) -> NetworkRules:
    return NetworkRules(net.name, net.bridge, net.subnet, net.gateway, internal=net.internal,
                        masquerade=net.masquerade, icc=net.icc, cluster_cidr=net.cluster_cidr)


def network_steps(net: Network) -> list[Step]:
    return [fws.EnsureFirewallBase(), fws.AddNetworkRules(rules_of(net))]


def remove_network_steps(net: Network) -> list[Step]:
    """The network's rules, then the tables themselves if nothing else uses them any more."""
    return [fws.RemoveNetworkRules(rules_of(net)), fws.DeleteFirewallBase()]


def link_steps(a: Network, b: Network) -> list[Step]:
    return [fws.EnsureFirewallBase(), LinkNetworks(a.name, b.name, a.bridge, b.bridge)]


def unlink_steps(net: Network, linked: Iterable[Network]) -> list[Step]:
    return [UnlinkNetworks(net.name, other.name, net.bridge, other.bridge) for other in linked]


def publish_steps(mappings: Sequence[PortMapping]) -> list[Step]:
    return [ports.PublishPort(m) for m in mappings]


def unpublish_steps(mappings: Sequence[PortMapping]) -> list[Step]:
    return [ports.UnpublishPort(m) for m in mappings]


def is_firewall_step(step: Step) -> bool:
    return type(step).__module__.startswith("wirework.firewall")


def forwarding_step() -> Step:
    return fws.EnsureForwarding()


def is_forwarding_step(step: Step) -> bool:
    return isinstance(step, fws.EnsureForwarding)


def delete_base_step() -> Step:
    return fws.DeleteFirewallBase()

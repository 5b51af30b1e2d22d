"""Re-create the whole firewall from stored definitions in one atomic batch (`wirework up`).

The batch starts with `add table` + `delete table` for both wirework tables (the usual nft
idiom for "replace"), so it works whether the tables survived, were flushed by `nft flush
ruleset`, or never existed, and nothing else on the host is touched.
"""

from __future__ import annotations

from collections.abc import Iterable

from wirework.firewall import nftjson as j
from wirework.firewall import render as r
from wirework.firewall.model import NetworkRules, PortMapping
from wirework.model.host import Host
from wirework.naming import conf_sysctl

Json = j.Json


def full_ruleset(networks: Iterable[NetworkRules], links: Iterable[tuple[str, str]],
                 mappings: Iterable[PortMapping]) -> list[Json]:
    """Every command that rebuilds both wirework tables with these networks, links and ports.

    `links` are pairs of network names; a link naming an unknown network is left out.
    """
    nets = list(networks)
    batch: list[Json] = []
    for family in (j.INET, j.BRIDGE):
        ref = {"table": {"family": family, "name": j.TABLE}}
        batch += [{"add": ref}, {"delete": ref}]
    batch += r.render_base()
    bridges = {n.name: n.bridge for n in nets}
    for net in nets:
        batch += r.render_network(net)
    for a, b in links:
        if a in bridges and b in bridges:
            batch += r.render_link(bridges[a], bridges[b], r.link_owner(a, b))
    for m in mappings:
        batch += r.render_port(m)
    return batch


def apply_full_ruleset(host: Host, networks: Iterable[NetworkRules], links: Iterable[tuple[str, str]],
                       mappings: Iterable[PortMapping]) -> None:
    """Apply `full_ruleset` atomically, then the per-bridge settings outside nftables.

    Those are `route_localnet=1` on every network bridge that exists and, when the iptables
    FORWARD policy is DROP, the tagged DOCKER-USER accepts (both are idempotent).
    """
    nets = list(networks)
    host.nft.run(full_ruleset(nets, links, mappings))
    blocked = host.fw.forward_blocked()
    for net in nets:
        key = conf_sysctl("ipv4", net.bridge, "route_localnet")
        if host.sysctl.get(key) is not None:
            host.sysctl.set(key, "1")
            if blocked:
                host.fw.ensure_bridge_accept(net.bridge, net.owner)

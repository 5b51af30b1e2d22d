"""Firewall steps: the `inet wirework` table, networks and links between them (ports: `firewall.ports`).

Every step applies one atomic nft batch (through `host.nft`, libnftables JSON) and returns
its exact undo: nothing when it found its change already made. Adding a network also turns
on `route_localnet` for its bridge (so the host can reach ports published on 127.0.0.1; the
`guard` chain keeps guests from using it) and, when the host's iptables FORWARD policy is
DROP (Docker), inserts tagged accepts for the bridge in DOCKER-USER/FORWARD: a drop in any
base chain wins over wirework's accepts, so the real filtering happens in `inet wirework`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wirework.drivers.switch import SetSysctl
from wirework.errors import Conflict, NotFound
from wirework.firewall import render as r
from wirework.firewall import text
from wirework.firewall.model import NetworkRules
from wirework.firewall.state import bridges_by_network, is_empty, link_pairs, missing_base, network_of, registry
from wirework.model.host import Host
from wirework.naming import conf_sysctl, tag
from wirework.plan.executor import run_best_effort
from wirework.plan.steps import Step, register


@register
@dataclass(frozen=True)
class EnsureFirewallBase(Step):
    """Create tables `inet wirework` and `bridge wirework` with chains, sets and maps."""

    kind = "fw_ensure_base"

    def apply(self, host: Host) -> Sequence[Step]:
        # Look first (cheap: the bridge table holds no ports): a rejected batch costs ~10 ms.
        if not missing_base(host):
            return ()
        batch = r.render_base()
        try:
            host.nft.run([{"create": batch[0]["add"]}, *batch[1:]])
        except Conflict:
            raise Conflict("table inet wirework exists but bridge wirework is incomplete; "
                           "run 'wirework up' to rebuild the firewall") from None
        return [DeleteFirewallBase()]

    def crash_undo(self) -> Sequence[Step]:
        return [DeleteFirewallBase()]

    def describe(self) -> str:
        return "create nftables tables inet wirework and bridge wirework (chains, port maps, network maps)"

    def commands(self) -> list[str]:
        return ["nft -j -f - < (render_base(): tables inet/bridge wirework with their chains, sets and maps)"]


@register
@dataclass(frozen=True)
class DeleteFirewallBase(Step):
    """Delete both wirework tables, but only while they hold no network and no port."""

    kind = "fw_delete_base"

    def apply(self, host: Host) -> Sequence[Step]:
        if not is_empty(host):
            return ()
        try:
            host.nft.run([{"delete": {"table": {"family": f, "name": "wirework"}}} for f in ("inet", "bridge")])
        except NotFound:
            return ()
        return [EnsureFirewallBase()]

    def describe(self) -> str:
        return "delete nftables tables inet/bridge wirework if no network uses them"

    def commands(self) -> list[str]:
        return ["nft delete table inet wirework", "nft delete table bridge wirework"]


def _undo_on_failure(host: Host, undo: list[Step], exc: BaseException) -> None:
    """A step is atomic to the executor: undo its own earlier parts before failing."""
    run_best_effort(host, list(reversed(undo)))
    raise exc


@register
@dataclass(frozen=True)
class AddNetworkRules(Step):
    """One network's NAT, isolation and icc rules; its bridge must exist already."""

    kind = "fw_add_network"
    net: NetworkRules

    def apply(self, host: Host) -> Sequence[Step]:
        net = self.net
        undo: list[Step] = []
        found = registry(host).get(net.bridge)
        if found is None:
            host.nft.run(r.render_network(net))
            undo.append(RemoveNetworkRules(net))
        elif found != r.fingerprint(net):
            raise Conflict(f"bridge {net.bridge} already has firewall rules ({found}) that differ from network "
                           f"{net.name}'s options; remove them first (wirework network rm) or fix the options")
        try:
            key = conf_sysctl("ipv4", net.bridge, "route_localnet")
            if host.sysctl.get(key) is None:
                raise NotFound(what="bridge", name=net.bridge, fix="create the bridge before its firewall rules")
            undo += SetSysctl(key, "1").apply(host)
            if host.fw.forward_blocked() and host.fw.ensure_bridge_accept(net.bridge, net.owner):
                undo.append(RemoveBridgeAccept(net.bridge, net.owner))
        except Exception as exc:
            _undo_on_failure(host, undo, exc)
        return list(reversed(undo))

    def crash_undo(self) -> Sequence[Step]:
        return [RemoveBridgeAccept(self.net.bridge, self.net.owner), RemoveNetworkRules(self.net)]

    def describe(self) -> str:
        n = self.net
        opts = [o for o, on in (("internal", n.internal), ("masquerade", n.masquerade and not n.internal),
                                ("no-icc", not n.icc)) if on]
        return f"add firewall rules of network {n.name} on {n.bridge} ({n.subnet}{', ' if opts else ''}{', '.join(opts)})"

    def commands(self) -> list[str]:
        n = self.net
        return [*text.network(n), f"sysctl -w {conf_sysctl('ipv4', n.bridge, 'route_localnet')}=1",
                f"# if the FORWARD policy is DROP: iptables -I DOCKER-USER -i/-o {n.bridge} "
                f"-m comment --comment {tag(n.owner)} -j ACCEPT"]


@register
@dataclass(frozen=True)
class RemoveNetworkRules(Step):
    """Remove one network's rules and links (only when they carry this network's tag)."""

    kind = "fw_remove_network"
    net: NetworkRules

    def apply(self, host: Host) -> Sequence[Step]:
        net = self.net
        redo: list[Step] = []
        known = registry(host)
        found = known.get(net.bridge)
        if found is not None and found.split(" #")[0] == tag(net.owner):
            names = {bridge: network_of(comment) for bridge, comment in known.items()}
            pairs = [(a, b) for a, b in link_pairs(host) if net.bridge in (a, b) and a < b]
            batch = [c for a, b in pairs for c in r.render_unlink(a, b)] + r.render_network_removal(net)
            host.nft.run(batch)
            redo = [AddNetworkRules(net)]
            redo += [LinkNetworks(names.get(a, a), names.get(b, b)) for a, b in pairs]
        if host.fw.forward_blocked():  # the accepts were only added under a DROP policy
            host.fw.remove_bridge_accept(net.bridge, net.owner)
        return redo

    def describe(self) -> str:
        return f"remove firewall rules of network {self.net.name} (bridge {self.net.bridge}) and its links"

    def commands(self) -> list[str]:
        return text.network_removal(self.net)


@register
@dataclass(frozen=True)
class RemoveBridgeAccept(Step):
    kind = "fw_remove_bridge_accept"
    bridge: str
    owner: str

    def apply(self, host: Host) -> Sequence[Step]:
        host.fw.remove_bridge_accept(self.bridge, self.owner)
        return ()

    def describe(self) -> str:
        return f"remove the iptables accepts for {self.bridge} from DOCKER-USER/FORWARD"

    def commands(self) -> list[str]:
        c = f"-m comment --comment {tag(self.owner)} -j ACCEPT"
        return [f"iptables -D DOCKER-USER -i {self.bridge} {c}", f"iptables -D DOCKER-USER -o {self.bridge} {c}"]


@register
@dataclass(frozen=True)
class LinkNetworks(Step):
    """Allow traffic between two networks (isolated from each other otherwise)."""

    kind = "fw_link_networks"
    a: str
    b: str

    def _bridges(self, host: Host) -> tuple[str, str]:
        known = bridges_by_network(host)
        for name in (self.a, self.b):
            if name not in known:
                raise NotFound(what="network with firewall rules", name=name, fix="create the network first")
        return known[self.a], known[self.b]

    def apply(self, host: Host) -> Sequence[Step]:
        ba, bb = self._bridges(host)
        owner = r.link_owner(self.a, self.b)
        try:
            host.nft.run(r.render_link(ba, bb, owner, "create"))
        except Conflict:
            host.nft.run(r.render_link(ba, bb, owner, "add"))
            return ()
        return [UnlinkNetworks(self.a, self.b)]

    def describe(self) -> str:
        return f"allow traffic between networks {self.a} and {self.b}"

    def commands(self) -> list[str]:
        return text.link(f"<bridge of {self.a}>", f"<bridge of {self.b}>", r.link_owner(self.a, self.b))


@register
@dataclass(frozen=True)
class UnlinkNetworks(Step):
    kind = "fw_unlink_networks"
    a: str
    b: str

    def apply(self, host: Host) -> Sequence[Step]:
        known = bridges_by_network(host)
        if self.a not in known or self.b not in known:
            return ()
        try:
            host.nft.run(r.render_unlink(known[self.a], known[self.b]))
        except NotFound:
            return ()
        return [LinkNetworks(self.a, self.b)]

    def describe(self) -> str:
        return f"isolate networks {self.a} and {self.b} from each other again"

    def commands(self) -> list[str]:
        return text.unlink(f"<bridge of {self.a}>", f"<bridge of {self.b}>")


@register
@dataclass(frozen=True)
class EnsureForwarding(Step):
    """net.ipv4.ip_forward=1 in the host's netns; the undo (a `SetSysctl`) restores the old value."""

    kind = "fw_ensure_forwarding"

    def apply(self, host: Host) -> Sequence[Step]:
        return SetSysctl("net.ipv4.ip_forward", "1").apply(host)

    def describe(self) -> str:
        return "enable IPv4 forwarding (net.ipv4.ip_forward=1): NAT networks route through the host"

    def commands(self) -> list[str]:
        return ["sysctl -w net.ipv4.ip_forward=1"]

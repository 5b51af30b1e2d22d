"""Firewall steps: the `inet wirework` table and networks (links between networks: `firewall.links`;
ports: `firewall.ports`).

Every step applies one atomic nft batch (through `host.nft`, libnftables JSON) and returns
its exact undo: nothing when it found its change already made. Creating the tables, a
network's tagged rules and a port mapping need no journal record (their crash undo removes
only what carries the same tag); the other steps read the tables in `prepare`, so the
executor journals their undo before they run. Adding a network also turns
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
from wirework.firewall.links import LinkNetworks
from wirework.firewall.model import NetworkRules
from wirework.firewall.state import is_empty, link_pairs, missing_base, network_of, registry
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

    def changes_existing(self) -> bool:
        return False

    def describe(self) -> str:
        return "create nftables tables inet wirework and bridge wirework (chains, port maps, network maps)"

    def commands(self) -> list[str]:
        return [text.json_batch(r.render_base())]


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

    def prepare(self, host: Host) -> Sequence[Step]:
        return [EnsureFirewallBase()] if not missing_base(host) and is_empty(host) else ()

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

    def prepare(self, host: Host) -> Sequence[Step]:
        # The rules and accepts carry the network's tag, but route_localnet may have been set
        # on a bridge that existed before: its old value is journaled with them.
        old = host.sysctl.get(f"net.ipv4.conf.{self.net.bridge}.route_localnet")
        sysctl = [SetSysctl(f"net.ipv4.conf.{self.net.bridge}.route_localnet", old)] if old not in (None, "1") else []
        return [*self.crash_undo(), *sysctl] if self.net.bridge not in registry(host) else sysctl

    def describe(self) -> str:
        n = self.net
        opts = [o for o, on in (("internal", n.internal), ("masquerade", n.masquerade and not n.internal),
                                ("no-icc", not n.icc)) if on]
        return f"add firewall rules of network {n.name} on {n.bridge} ({n.subnet}{', ' if opts else ''}{', '.join(opts)})"

    def commands(self) -> list[str]:
        n = self.net
        return [*text.network(n), f"sysctl -w {conf_sysctl('ipv4', n.bridge, 'route_localnet')}=1",
                f"# only where the FORWARD policy is DROP (Docker): iptables -I DOCKER-USER -i {n.bridge} "
                f"-m comment --comment {tag(n.owner)} -j ACCEPT; the same with -o {n.bridge}"]


@register
@dataclass(frozen=True)
class RemoveNetworkRules(Step):
    """Remove one network's rules and links (only when they carry this network's tag)."""

    kind = "fw_remove_network"
    net: NetworkRules

    def apply(self, host: Host) -> Sequence[Step]:
        net = self.net
        redo, pairs = self._redo(host)
        if redo:
            batch = [c for a, b in pairs for c in r.render_unlink(a, b)] + r.render_network_removal(net)
            host.nft.run(batch)
        if host.fw.forward_blocked():  # the accepts were only added under a DROP policy
            host.fw.remove_bridge_accept(net.bridge, net.owner)
        return redo

    def prepare(self, host: Host) -> Sequence[Step]:
        return self._redo(host)[0]

    def _redo(self, host: Host) -> tuple[list[Step], list[tuple[str, str]]]:
        """What puts the rules and links back, and the links to remove ([] when not ours)."""
        known = registry(host)
        found = known.get(self.net.bridge)
        if found is None or found.split(" #")[0] != tag(self.net.owner):
            return [], []
        names = {bridge: network_of(comment) for bridge, comment in known.items()}
        pairs = [(a, b) for a, b in link_pairs(host) if self.net.bridge in (a, b) and a < b]
        redo: list[Step] = [AddNetworkRules(self.net)]
        return redo + [LinkNetworks(names.get(a, a), names.get(b, b), a, b) for a, b in pairs], pairs

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

    def changes_existing(self) -> bool:
        return False  # a deletion has no undo, in a crash or not

    def describe(self) -> str:
        return f"remove the iptables accepts for {self.bridge} from DOCKER-USER/FORWARD"

    def commands(self) -> list[str]:
        c = f"-m comment --comment {tag(self.owner)} -j ACCEPT"
        return [f"iptables -D DOCKER-USER -i {self.bridge} {c}", f"iptables -D DOCKER-USER -o {self.bridge} {c}"]


@register
@dataclass(frozen=True)
class EnsureForwarding(Step):
    """net.ipv4.ip_forward=1 in the host's netns; the undo (a `SetSysctl`) restores the old value."""

    kind = "fw_ensure_forwarding"

    def apply(self, host: Host) -> Sequence[Step]:
        return SetSysctl("net.ipv4.ip_forward", "1").apply(host)

    def prepare(self, host: Host) -> Sequence[Step]:
        return SetSysctl("net.ipv4.ip_forward", "1").prepare(host)

    def describe(self) -> str:
        return "enable IPv4 forwarding (net.ipv4.ip_forward=1): NAT networks route through the host"

    def commands(self) -> list[str]:
        return ["sysctl -w net.ipv4.ip_forward=1"]

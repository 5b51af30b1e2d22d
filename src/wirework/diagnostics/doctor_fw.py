"""Doctor checks on the firewall side: the FORWARD policy, br_netfilter, two iptables
backends at once, and nftables elements or leases that no record owns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wirework.attachments import records
from wirework.context import HostContext
from wirework.diagnostics.fixes import wirework
from wirework.errors import WireworkError
from wirework.ipam import Ipam
from wirework.model.guest import label_of
from wirework.networks import endpoints
from wirework.networks.network import Network

if TYPE_CHECKING:
    from wirework.diagnostics.doctor import Finding


def _finding(*args: str) -> Finding:
    from wirework.diagnostics.doctor import Finding

    return Finding(*args)


def _run(ctx: HostContext, argv: list[str]) -> str | None:
    if ctx.host.proc.which(argv[0]) is None:
        return None
    try:
        return ctx.host.proc.run_in(None, argv, timeout=15)
    except WireworkError:
        return None


def firewall_findings(ctx: HostContext, networks: list[Network]) -> list[Finding]:
    return _forward_policy(ctx, networks) + _backends(ctx)


def _forward_policy(ctx: HostContext, networks: list[Network]) -> list[Finding]:
    rules = _run(ctx, ["iptables", "-w", "5", "-S"]) or ""
    if "-P FORWARD DROP" not in rules or not networks:
        return []
    out = []
    lines = [ln for ln in rules.splitlines() if "-j ACCEPT" in ln and ln.startswith(("-A FORWARD", "-A DOCKER-USER"))]
    nf_call = ctx.host.sysctl.get("net.bridge.bridge-nf-call-iptables")
    for net in networks:
        if any(f"-i {net.bridge} " in ln for ln in lines) and any(f"-o {net.bridge} " in ln for ln in lines):
            continue
        same = (" Bridged traffic between its guests passes FORWARD too (bridge-nf-call-iptables=1)."
                if nf_call == "1" else "")
        out.append(_finding("forward-drop", "error",
                            f"iptables FORWARD policy is DROP with no accept for {net.bridge} (network {net.name})",
                            "routed (and, with br_netfilter, bridged) traffic of its guests is dropped before "
                            "wirework's own rules can accept it." + same,
                            f"{wirework(ctx, 'up')} (adds: iptables -I DOCKER-USER -i {net.bridge} -j ACCEPT; "
                            f"iptables -I DOCKER-USER -o {net.bridge} -j ACCEPT)"))
    return out


def _backends(ctx: HostContext) -> list[Finding]:
    counts = {}
    for tool in ("iptables-legacy-save", "iptables-nft-save"):
        text = _run(ctx, [tool])
        counts[tool] = sum(1 for ln in (text or "").splitlines() if ln.startswith("-A "))
    if counts["iptables-legacy-save"] and counts["iptables-nft-save"]:
        return [_finding("iptables-two-backends", "warning",
                         f"rules in both iptables backends (legacy: {counts['iptables-legacy-save']}, "
                         f"nft: {counts['iptables-nft-save']})",
                         "packets pass both rule sets; a DROP in either wins, and each tool shows only its own",
                         "move every rule to one backend: iptables-legacy-save > rules.v4; iptables-legacy -F; "
                         "iptables-nft-restore < rules.v4; update-alternatives --set iptables /usr/sbin/iptables-nft")]
    return []


def _map_elements(ctx: HostContext, name: str) -> list[Any]:
    try:
        out = ctx.host.nft.run([{"list": {"map": {"family": "inet", "table": "wirework", "name": name}}}])
    except WireworkError:
        return []
    for item in out:
        if "map" in item:
            return list(item["map"].get("elem", []))
    return []


def _port_text(key: Any) -> str:
    """"8095/tcp" (or "127.0.0.1:8095/tcp") from a port map element's key."""
    value = key.get("elem", {}).get("val", key) if isinstance(key, dict) else key
    parts = value.get("concat", []) if isinstance(value, dict) else []
    if len(parts) == 2:
        return f"{parts[1]}/{parts[0]}"
    if len(parts) == 3:
        return f"{parts[0]}:{parts[2]}/{parts[1]}"
    return str(value)


def _comment(key: Any) -> str:
    return str(key.get("elem", {}).get("comment", "")) if isinstance(key, dict) else ""


def stale_firewall(ctx: HostContext, networks: list[Network]) -> list[Finding]:
    known_nets = {f"wirework:net:{n.name}" for n in networks}
    atts = records.all_for_host(ctx.store, ctx.host_id)
    # ports carry the attachment id; links carry the per-attempt owner (att:<id>.<nonce>)
    known_atts = {f"wirework:{a.owner}" for a in atts} | {f"wirework:att:{a.id}" for a in atts}
    out = []
    for key, _ in _map_elements(ctx, "from_net"):
        owner = _comment(key).split(" #")[0]
        if owner and owner not in known_nets:
            net = owner.removeprefix("wirework:net:")
            out.append(_finding("stale-nft-network", "warning", f"nftables rules of network {net} remain, but "
                                "wirework has no such network", "a left-over of a removed or interrupted network",
                                f"{wirework(ctx, 'up')} (rebuilds the tables)"))
    for name in ("port_addr", "hostport_addr"):
        for key, value in _map_elements(ctx, name):
            owner = _comment(key)
            if owner.startswith("wirework:att:") and owner not in known_atts:
                out.append(_finding("stale-nft-port", "warning", f"host port {_port_text(key)} is still published "
                                    f"to {value}, for a guest wirework no longer knows",
                                    "the port stays taken and forwards to a dead address",
                                    f"{wirework(ctx, 'up')} (rebuilds the tables)"))
    return out + _stale_leases(ctx, networks)


def _stale_leases(ctx: HostContext, networks: list[Network]) -> list[Finding]:
    out = []
    ipam = Ipam(ctx.store, ctx.host_id)
    for net in networks:
        holders = endpoints.lease_holders(ctx.store, ctx.host_id, net.name)
        for lease in ipam.leases(net.name):
            if not endpoints.held(lease.owner, holders) and not lease.taker_alive():
                out.append(_finding("stale-lease", "warning", f"address {lease.ip} on {net.name} is leased to "
                                    f"{label_of(lease.owner)}, which is not connected",
                                    "the address cannot be handed out",
                                    f"{wirework(ctx, 'up')} (releases leases that interrupted operations left)"))
    return out

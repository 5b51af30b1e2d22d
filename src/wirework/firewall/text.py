"""The same changes as `render`, in `nft` command-line syntax, for `--dry-run --format commands`.

These lines are for people (and for trying a change by hand); what wirework applies is the
JSON from `render`, in one atomic batch per step.
"""

from __future__ import annotations

from wirework.firewall import render as r
from wirework.firewall.model import NetworkRules, PortMapping
from wirework.naming import tag

T = "inet wirework"


def port(m: PortMapping, verb: str = "add") -> list[str]:
    addr_map, port_map = r.port_maps(m)
    key = f'{r.port_key_text(m)} comment "{r.port_comment(m)}"'
    return [
        f"nft {verb} element {T} {addr_map} '{{ {key} : {m.guest_ip} }}'",
        f"nft {verb} element {T} {port_map} '{{ {key} : {m.guest_port} }}'",
    ]


def unport(m: PortMapping) -> list[str]:
    return [f"nft delete element {T} {name} '{{ {r.port_key_text(m)} }}'" for name in r.port_maps(m)]


def network(net: NetworkRules) -> list[str]:
    src, dst, post = r.net_chains(net)
    c = f'comment "{tag(net.owner)}"'
    br = f'"{net.bridge}"'
    lines = [f"nft add chain {T} {name}" for name in (src, dst, post)]
    body = []
    if net.internal:
        body.append((src, f"oifname != {br} drop"))
    body += [(src, "ct status dnat accept"), (src, f"oifname {br} {'accept' if net.icc else 'drop'}"),
             (src, "oifname @bridges drop"), (src, "accept")]
    if net.internal:
        body.append((dst, "drop"))
    body += [(dst, "ct status dnat accept"), (dst, "iifname @bridges drop")]
    if net.cluster_cidr and not net.internal:
        body.append((dst, f"ip saddr {net.cluster_cidr} accept"))
    body.append((dst, "drop" if net.masquerade else "accept"))
    if net.masquerade and not net.internal:
        to_cluster = f" ip daddr != {net.cluster_cidr}" if net.cluster_cidr else ""
        body.append((post, f"oifname != @bridges{to_cluster} ip saddr {net.subnet} masquerade"))
    lines += [f"nft add rule {T} {chain} {rule} {c}" for chain, rule in body]
    lines += [
        f"nft add element {T} bridges '{{ {br} {c} }}'",
        f"nft add element {T} hairpin '{{ {net.subnet} . {br} {c} }}'",
        f"nft add element {T} from_net '{{ {br} {c} : jump {src} }}'",
        f"nft add element {T} to_net '{{ {br} {c} : jump {dst} }}'",
        f"nft add element {T} post_net '{{ {br} {c} : jump {post} }}'",
        f"nft add element bridge wirework networks '{{ {br} comment \"{r.fingerprint(net)}\" }}'",
    ]
    if not net.icc:
        lines.append(f"nft add element bridge wirework noicc '{{ {net.subnet} . {net.subnet} {c} }}'")
    return lines


def network_removal(net: NetworkRules) -> list[str]:
    br = f'"{net.bridge}"'
    lines = [f"nft delete element {T} {name} '{{ {br} }}'" for name in ("bridges", "from_net", "to_net", "post_net")]
    lines.append(f"nft delete element {T} hairpin '{{ {net.subnet} . {br} }}'")
    lines.append(f"nft delete element bridge wirework networks '{{ {br} }}'")
    if not net.icc:
        lines.append(f"nft delete element bridge wirework noicc '{{ {net.subnet} . {net.subnet} }}'")
    for chain in r.net_chains(net):
        lines += [f"nft flush chain {T} {chain}", f"nft delete chain {T} {chain}"]
    return lines


def link(a: str, b: str, owner: str) -> list[str]:
    c = f'comment "{tag(owner)}"'
    return [f"nft add element {t} links '{{ \"{x}\" . \"{y}\" {c} }}'"
            for t in (T, "bridge wirework") for x, y in ((a, b), (b, a))]


def unlink(a: str, b: str) -> list[str]:
    return [f"nft delete element {t} links '{{ \"{x}\" . \"{y}\" }}'"
            for t in (T, "bridge wirework") for x, y in ((a, b), (b, a))]

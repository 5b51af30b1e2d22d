"""The same changes as `render`, in `nft` command-line syntax, for `--dry-run --format commands`.

These lines are for people (and for trying a change by hand); what wirework applies is the
JSON from `render`, in one atomic batch per step. A batch too long to read as lines (the
empty firewall) is printed as that very JSON, fed to `nft -j -f -` by a here-document.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from wirework.firewall import render as r
from wirework.firewall.model import NetworkRules, PortMapping
from wirework.naming import tag

T = "inet wirework"


def nft(command: str) -> str:
    """One nft command as a single shell word: its quotes and braces reach nft untouched."""
    return f"nft '{command}'"


def json_batch(batch: Sequence[Any]) -> str:
    """One shell command that applies a JSON batch atomically, as wirework does."""
    body = json.dumps({"nftables": list(batch)}, separators=(",", ":"))
    return f"nft -j -f - <<'EOF'\n{body}\nEOF"


def port(m: PortMapping, verb: str = "add") -> list[str]:
    addr_map, port_map = r.port_maps(m)
    key = f'{r.port_key_text(m)} comment "{r.port_comment(m)}"'
    return [
        nft(f"{verb} element {T} {addr_map} {{ {key} : {m.guest_ip} }}"),
        nft(f"{verb} element {T} {port_map} {{ {key} : {m.guest_port} }}"),
    ]


def unport(m: PortMapping) -> list[str]:
    return [nft(f"delete element {T} {name} {{ {r.port_key_text(m)} }}") for name in r.port_maps(m)]


def network(net: NetworkRules) -> list[str]:
    src, dst, post = r.net_chains(net)
    c = f'comment "{tag(net.owner)}"'
    br = f'"{net.bridge}"'
    lines = [nft(f"add chain {T} {name}") for name in (src, dst, post)]
    body = []
    if net.internal:
        body.append((src, f"oifname != {br} drop"))
    body += [(src, "ct status dnat accept"), (src, f"oifname {br} {'accept' if net.icc else 'drop'}"),
             (src, "oifname @bridges drop"), (src, "accept")]
    if net.internal:
        body.append((dst, "drop"))
    body += [(dst, "ct status dnat accept"), (dst, "iifname @bridges drop"),
             (dst, "drop" if net.masquerade else "accept")]
    if net.masquerade and not net.internal:
        body.append((post, f"oifname != @bridges ip saddr {net.subnet} masquerade"))
    lines += [nft(f"add rule {T} {chain} {rule} {c}") for chain, rule in body]
    lines += [
        nft(f"add element {T} bridges {{ {br} {c} }}"),
        nft(f"add element {T} hairpin {{ {net.subnet} . {br} {c} }}"),
        nft(f"add element {T} from_net {{ {br} {c} : jump {src} }}"),
        nft(f"add element {T} to_net {{ {br} {c} : jump {dst} }}"),
        nft(f"add element {T} post_net {{ {br} {c} : jump {post} }}"),
        nft(f"add element bridge wirework networks {{ {br} comment \"{r.fingerprint(net)}\" }}"),
    ]
    if not net.icc:
        lines.append(nft(f"add element bridge wirework noicc {{ {net.subnet} . {net.subnet} {c} }}"))
    return lines


def network_removal(net: NetworkRules) -> list[str]:
    br = f'"{net.bridge}"'
    lines = [nft(f"delete element {T} {name} {{ {br} }}") for name in ("bridges", "from_net", "to_net", "post_net")]
    lines.append(nft(f"delete element {T} hairpin {{ {net.subnet} . {br} }}"))
    lines.append(nft(f"delete element bridge wirework networks {{ {br} }}"))
    if not net.icc:
        lines.append(nft(f"delete element bridge wirework noicc {{ {net.subnet} . {net.subnet} }}"))
    for chain in r.net_chains(net):
        lines += [nft(f"flush chain {T} {chain}"), nft(f"delete chain {T} {chain}")]
    return lines


def link(a: str, b: str, owner: str) -> list[str]:
    c = f'comment "{tag(owner)}"'
    return [nft(f"add element {t} links {{ \"{x}\" . \"{y}\" {c} }}")
            for t in (T, "bridge wirework") for x, y in ((a, b), (b, a))]


def unlink(a: str, b: str) -> list[str]:
    return [nft(f"delete element {t} links {{ \"{x}\" . \"{y}\" }}")
            for t in (T, "bridge wirework") for x, y in ((a, b), (b, a))]

"""Read-only queries of the live wirework tables.

They read the registry in `bridge wirework` (never the port maps), so their cost does not
depend on how many ports are published: nft 1.0.6 loads every element of a table it lists.
"""

from __future__ import annotations

from typing import Any

from wirework.errors import NotFound
from wirework.firewall import render as r
from wirework.model.host import Host
from wirework.naming import TAG_PREFIX


def _elements(host: Host, family: str, kind: str, name: str) -> list[Any]:
    try:
        out = host.nft.run([{"list": {kind: {"family": family, "table": "wirework", "name": name}}}])
    except NotFound:
        return []
    for item in out:
        if kind in item:
            return list(item[kind].get("elem", []))
    return []


def _val(value: Any) -> tuple[Any, str]:
    if isinstance(value, dict) and "elem" in value:
        return value["elem"]["val"], str(value["elem"].get("comment", ""))
    return value, ""


def registry(host: Host) -> dict[str, str]:
    """Bridge -> the comment of its network (`wirework:net:NAME #digest`)."""
    return {str(v): c for v, c in map(_val, _elements(host, "bridge", "set", r.NETWORKS))}


def network_of(comment: str) -> str:
    owner = comment.split(" #")[0].removeprefix(TAG_PREFIX)
    return owner.removeprefix("net:")


def bridges_by_network(host: Host) -> dict[str, str]:
    """Network name -> bridge."""
    return {network_of(c): bridge for bridge, c in registry(host).items()}


def link_pairs(host: Host) -> list[tuple[str, str]]:
    pairs = []
    for item in _elements(host, "bridge", "set", r.LINKS):
        a, b = _val(item)[0]["concat"]
        pairs.append((str(a), str(b)))
    return pairs


def missing_base(host: Host) -> list[str]:
    """Base chains missing from `bridge wirework` (a cheap sign of a hand-damaged firewall)."""
    try:
        out = host.nft.run([{"list": {"chains": {"family": "bridge"}}}])
    except NotFound:
        out = []
    have = {c["chain"]["name"] for c in out if "chain" in c and c["chain"].get("table") == "wirework"}
    return [f"bridge {c}" for c in ("forward",) if c not in have]


def is_empty(host: Host) -> bool:
    """No network and no published port in the tables (only then may they be deleted)."""
    if registry(host):
        return False
    return not any(_elements(host, "inet", "map", name) for name in (r.PORT_ADDR, r.HOSTPORT_ADDR))

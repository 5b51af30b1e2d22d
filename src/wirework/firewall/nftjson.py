"""Small builders for libnftables JSON (schema version 1, as nft 1.0.6 prints it).

Each returns the plain dict nft expects, so the renderers read like the ruleset they make.
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

TABLE = "wirework"
INET = "inet"
BRIDGE = "bridge"


def table(family: str, comment: str) -> Json:
    return {"table": {"family": family, "name": TABLE, "comment": comment}}


def chain(name: str, family: str = INET, *, hook: str | None = None, prio: int = 0, kind: str = "filter") -> Json:
    body: Json = {"family": family, "table": TABLE, "name": name}
    if hook is not None:
        body.update({"type": kind, "hook": hook, "prio": prio, "policy": "accept"})
    return {"chain": body}


def rule(chain_name: str, exprs: list[Json], comment: str, family: str = INET) -> Json:
    return {"rule": {"family": family, "table": TABLE, "chain": chain_name, "expr": exprs, "comment": comment}}


def named_set(name: str, key: str | list[str], comment: str, *, data: str | None = None,
              interval: bool = False, family: str = INET) -> Json:
    body: Json = {"family": family, "table": TABLE, "name": name, "type": key, "comment": comment}
    if interval:
        body["flags"] = ["interval"]
    if data is not None:
        body["map"] = data
        return {"map": body}
    return {"set": body}


def element(set_name: str, items: list[Any], family: str = INET) -> Json:
    return {"element": {"family": family, "table": TABLE, "name": set_name, "elem": items}}


def elem(value: Any, comment: str) -> Json:
    return {"elem": {"val": value, "comment": comment}}


def concat(*parts: Any) -> Json:
    return {"concat": list(parts)}


def meta(key: str) -> Json:
    return {"meta": {"key": key}}


def payload(protocol: str, field: str) -> Json:
    return {"payload": {"protocol": protocol, "field": field}}


def prefix(cidr: str) -> Json:
    addr, _, length = cidr.partition("/")
    return {"prefix": {"addr": addr, "len": int(length or 32)}}


def match(left: Json, right: Any, op: str = "==") -> Json:
    return {"match": {"op": op, "left": left, "right": right}}


def verdict(kind: str, target: str | None = None) -> Json:
    return {kind: {"target": target}} if target is not None else {kind: None}


def vmap(key: Json, map_name: str) -> Json:
    return {"vmap": {"key": key, "data": "@" + map_name}}


def ct(key: str, value: Any) -> Json:
    return match({"ct": {"key": key}}, value, "in")


def fib_local() -> Json:
    return match({"fib": {"result": "type", "flags": ["daddr"]}}, "local")


def dnat_from_maps(key: Json, addr_map: str, port_map: str) -> Json:
    """DNAT to the address and the port looked up under one key in two maps.

    nft 1.0.6 JSON cannot declare an `ipv4_addr . inet_service` map value (and crashed on
    it), so the address and the port live in two maps with the same keys.
    """
    return {"dnat": {
        "family": "ip",
        "addr": {"map": {"key": key, "data": "@" + addr_map}},
        "port": {"map": {"key": key, "data": "@" + port_map}},
    }}


def command(verb: str, obj: Json) -> Json:
    return {verb: obj}

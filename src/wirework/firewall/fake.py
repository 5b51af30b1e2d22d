"""An in-memory stand-in for `host.nft`, for planning and unit tests without a kernel.

It understands the commands `render` produces (tables, chains, rules, sets, maps, elements;
add/create/delete/flush/list and `get_element`), applies a batch all-or-nothing like the
kernel, and raises the same `NotFound`/`Conflict` errors as `kernel.nft.Nft`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wirework.errors import Conflict, NotFound


def key_text(value: Any) -> str:
    """A JSON key as nft prints it: `tcp . 8080`, `"br0"`, `10.0.0.0/24 . "br0"`."""
    if isinstance(value, dict) and "concat" in value:
        return " . ".join(key_text(v) for v in value["concat"])
    if isinstance(value, dict) and "prefix" in value:
        return f"{value['prefix']['addr']}/{value['prefix']['len']}"
    if isinstance(value, str) and not value[:1].isdigit() and value not in ("tcp", "udp"):
        return f'"{value}"'
    return str(value)


def value_text(value: Any) -> str:
    if isinstance(value, dict) and "jump" in value:
        return f"jump {value['jump']['target']}"
    return str(value)


@dataclass
class FakeTable:
    chains: dict[str, list[Any]] = field(default_factory=dict)
    sets: dict[str, dict[str, tuple[Any, str, Any]]] = field(default_factory=dict)  # text key -> (key, comment, value)


class FakeNft:
    def __init__(self) -> None:
        self.tables: dict[tuple[str, str], FakeTable] = {}
        self.batches: list[list[dict[str, Any]]] = []

    def run(self, commands: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        saved = copy.deepcopy(self.tables)
        out: list[dict[str, Any]] = []
        try:
            for cmd in commands:
                ((verb, body),) = cmd.items()
                ((kind, obj),) = body.items()
                out += getattr(self, f"_{verb}")(kind, obj)
        except BaseException:
            self.tables = saved
            raise
        self.batches.append([dict(c) for c in commands])
        return out

    def get_element(self, family: str, table: str, name: str, key: str) -> tuple[str, str] | None:
        found = self.tables.get((family, table), FakeTable()).sets.get(name, {}).get(key)
        return None if found is None else (value_text(found[2]), found[1])

    def _table(self, obj: Mapping[str, Any]) -> FakeTable:
        name = (obj["family"], obj.get("table", obj.get("name")))
        if name not in self.tables:
            raise NotFound(f"nftables object not found: table {name}")
        return self.tables[name]

    def _add(self, kind: str, obj: Mapping[str, Any], exclusive: bool = False) -> list[dict[str, Any]]:
        if kind == "table":
            ref = (obj["family"], obj["name"])
            if ref in self.tables and exclusive:
                raise Conflict(f"nftables object exists: table {ref}")
            self.tables.setdefault(ref, FakeTable())
            return []
        table = self._table(obj)
        if kind == "chain":
            if obj["name"] in table.chains and exclusive:
                raise Conflict(f"nftables object exists: chain {obj['name']}")
            table.chains.setdefault(obj["name"], [])
        elif kind == "rule":
            self._chain(table, obj["chain"]).append(obj["expr"])
        elif kind in ("set", "map"):
            table.sets.setdefault(obj["name"], {})
        elif kind == "element":
            self._add_elements(table, obj, exclusive)
        return []

    def _add_elements(self, table: FakeTable, obj: Mapping[str, Any], exclusive: bool) -> None:
        elems = self._set(table, obj["name"])
        for item in obj["elem"]:
            key, value = (item[0], item[1]) if isinstance(item, list) else (item, None)
            val, comment = (key["elem"]["val"], key["elem"].get("comment", "")) if "elem" in key else (key, "")
            text = key_text(val)
            if text in elems and (exclusive or json.dumps(elems[text][2]) != json.dumps(value)):
                raise Conflict(f"nftables object exists with other contents: element {text}")
            elems.setdefault(text, (val, comment, value))

    def _create(self, kind: str, obj: Mapping[str, Any]) -> list[dict[str, Any]]:
        return self._add(kind, obj, exclusive=True)

    def _delete(self, kind: str, obj: Mapping[str, Any]) -> list[dict[str, Any]]:
        if kind == "table":
            self._table(obj)
            del self.tables[(obj["family"], obj["name"])]
        elif kind == "chain":
            table = self._table(obj)
            self._chain(table, obj["name"])
            del table.chains[obj["name"]]
        elif kind == "element":
            elems = self._set(self._table(obj), obj["name"])
            for key in obj["elem"]:
                if elems.pop(key_text(key), None) is None:
                    raise NotFound(f"nftables object not found: element {key_text(key)}")
        return []

    def _flush(self, kind: str, obj: Mapping[str, Any]) -> list[dict[str, Any]]:
        if kind == "chain":
            self._chain(self._table(obj), obj["name"]).clear()
        return []

    def _list(self, kind: str, obj: Mapping[str, Any]) -> list[dict[str, Any]]:
        if kind == "chains":
            return [{"chain": {"family": f, "table": t, "name": c}}
                    for (f, t), table in self.tables.items() if f == obj["family"] for c in table.chains]
        elems = self._set(self._table(obj), obj["name"])
        items = [[{"elem": {"val": v, "comment": c}}, d] if d is not None else {"elem": {"val": v, "comment": c}}
                 for v, c, d in elems.values()]
        return [{kind: {**obj, "elem": items}}]

    @staticmethod
    def _chain(table: FakeTable, name: str) -> list[Any]:
        if name not in table.chains:
            raise NotFound(f"nftables object not found: chain {name}")
        return table.chains[name]

    @staticmethod
    def _set(table: FakeTable, name: str) -> dict[str, tuple[Any, str, Any]]:
        if name not in table.sets:
            raise NotFound(f"nftables object not found: set {name}")
        return table.sets[name]

"""Read a lab file: YAML whose mappings and lists remember their line, checked by a JSON schema.

PyYAML drops node marks once it builds Python objects, so this loader builds `Located`
containers (a dict or list plus the line of the container and of each key or item). Every
later check can then say `FILE:LINE: what is wrong`. Duplicate keys, which YAML would
silently overwrite, are errors here: two hosts with one name are a mistake, not an update.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from wirework.errors import InvalidInput


class LabFileError(InvalidInput):
    """One or more problems in a lab file, each with its line; nothing was created."""

    def __init__(self, problems: Sequence[tuple[str, int, str]]) -> None:
        lines = [f"{path}:{line}: {text}" if line else f"{path}: {text}" for path, line, text in problems]
        # One problem, one line (like every other error); several are listed one per line.
        super().__init__("invalid lab file: " + lines[0] if len(lines) == 1 else
                         "invalid lab file:\n  " + "\n  ".join(lines))
        self.problems = list(problems)


class LineMap(dict[str, Any]):
    line: int = 0
    key_lines: dict[str, int]


class LineList(list[Any]):
    line: int = 0
    item_lines: list[int]


def line_of(container: Any, key: str | int | None = None) -> int:
    """The line of `container[key]` (or of the container itself), 0 when unknown."""
    if isinstance(container, LineMap):
        return container.key_lines.get(str(key), container.line) if key is not None else container.line
    if isinstance(container, LineList):
        if isinstance(key, int) and 0 <= key < len(container.item_lines):
            return container.item_lines[key]
        return container.line
    return 0


class _Loader(yaml.SafeLoader):  # type: ignore[misc]
    problems: list[tuple[int, str]]


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> LineMap:
    out = LineMap()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = str(loader.construct_object(key_node, deep=True))
        line = key_node.start_mark.line + 1
        if key in out:
            loader.problems.append((line, f"duplicate key {key!r} (first on line {out.key_lines[key]})"))
            continue
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = line
    return out


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)  # type: ignore[arg-type]
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)  # type: ignore[arg-type]


@dataclass(frozen=True)
class LabDocument:
    path: str
    data: LineMap


def parse_text(text: str, path: str = "<lab>") -> LabDocument:
    """YAML text -> a LabDocument that passed the JSON schema (or LabFileError)."""
    loader = _Loader(text)
    loader.problems = []
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise LabFileError([(path, mark.line + 1 if mark else 0, f"not valid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    if loader.problems:
        raise LabFileError([(path, line, text) for line, text in loader.problems])
    if not isinstance(data, LineMap) or "hosts" not in data:
        raise LabFileError([(path, 1, "a lab file is a mapping with a top-level 'hosts:' mapping")])
    check_schema(data, path)
    return LabDocument(path, data)


def load_file(path: str) -> LabDocument:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise InvalidInput(what="lab file", value=path, why=f"cannot read it ({exc.strerror})") from None
    return parse_text(text, path)


def schema() -> dict[str, Any]:
    text = resources.files("wirework.lab").joinpath("schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def check_schema(data: LineMap, path: str) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        line = _line_at(data, list(error.absolute_path))
        if error.validator == "additionalProperties" and isinstance(error.instance, LineMap):
            extra = [k for k in error.instance if k not in error.schema.get("properties", {})]
            line = line_of(error.instance, extra[0]) if extra else line
        problems.append((path, line, _describe(error)))
    if problems:
        raise LabFileError(sorted(set(problems), key=lambda p: p[1]))


def _line_at(data: Any, where: list[str | int]) -> int:
    node, line = data, line_of(data)
    for key in where:
        line = line_of(node, key) or line
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
    return line


def _describe(error: Any) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "top level"
    message = str(error.message)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        message += f" (allowed: {', '.join(allowed)})" if allowed else ""
    return f"{where}: {message}"

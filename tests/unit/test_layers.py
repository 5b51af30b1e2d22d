"""The layering rule: only adapters import pyroute2, subprocess, docker or etcd clients, and
the CLI's fast path imports nothing heavy."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "wirework"
HEAVY = {"pyroute2", "subprocess", "docker", "etcd3gw", "etcd3", "aetcd", "nftables"}
ADAPTERS = ("kernel", "guests", "store", "testing", "service")


def imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_adapters_import_heavy_modules() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        if rel.parts[0] in ADAPTERS:
            continue
        bad = imported(path) & HEAVY
        if bad:
            offenders.append(f"{rel}: {sorted(bad)}")
    assert offenders == []


def test_cli_fast_path_imports_no_heavy_module() -> None:
    code = ("import sys, wirework.cli.main, wirework.cli.wire; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'pyroute2','json','re','typing','docker','sqlite3','asyncio'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_step_kind_is_found_by_recovery() -> None:
    """A journal names steps by kind; recovery must find every kind that any module defines."""
    import re as _re

    from wirework.plan import steps

    kinds = set()
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        if "@register" in text:
            kinds.update(_re.findall(r'^\s+kind = "([a-z_0-9]+)"', text, _re.M))
    steps._load_step_modules()
    assert kinds and kinds <= set(steps._REGISTRY)


def test_cni_front_talks_to_the_facade_only() -> None:
    """wirework.cni (a front) imports the facade, errors and itself; no adapter, no policy."""
    allowed = ("wirework.cni", "wirework.api", "wirework.errors")
    offenders = []
    for path in (SRC / "cni").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
            offenders += [f"{path.name}: {n}" for n in names
                          if n.startswith("wirework.") and not n.startswith(allowed)]
    assert offenders == []

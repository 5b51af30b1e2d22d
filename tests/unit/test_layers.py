"""The layering rules, checked on the source: imports only point down.

Layers, low to high: base < adapters < mechanism < policy < api < front. Inside a layer whose
packages are ordered, a package imports only those before it (no cycles). Every `wirework.*`
import counts: at module level, under `TYPE_CHECKING`, and inside functions. Also: only
adapters import pyroute2, subprocess, docker or etcd clients; the CLI's fast path imports
nothing heavy and the CLI no adapter; every step kind is found by recovery; no package holds
more than 14 modules. `docs/DESIGN.md` shows the same map.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "wirework"
HEAVY = {"pyroute2", "subprocess", "docker", "etcd3gw", "etcd3", "aetcd", "nftables"}
ADAPTERS = ("kernel", "guests", "store", "testing", "service")

#: Each layer's packages (top-level names under wirework/), low to high. Where a layer is
#: `ordered`, a package may import only the packages listed before it in that layer.
LAYERS: list[tuple[str, tuple[str, ...], bool]] = [
    ("base", ("errors", "naming", "model"), True),
    ("adapters", ("kernel", "guests", "store"), True),
    ("mechanism", ("plan", "drivers", "firewall", "ipam", "context", "testing"), True),
    ("policy", ("attachments", "networks", "uplink", "tunnels", "diagnostics", "cluster", "lab"), True),
    ("api", ("api", "__init__"), False),
    # Fronts may call each other (the CLI starts the service, the service runs CLI commands).
    ("front", ("cli", "service", "cni", "dockerplugin"), False),
]
PLACE = {pkg: (rank, index, name, ordered)
         for rank, (name, pkgs, ordered) in enumerate(LAYERS) for index, pkg in enumerate(pkgs)}
MAX_MODULES = 14


def package_of(module: str) -> str:
    """`wirework.networks.subnets.pools` -> `networks`; `wirework` itself -> `__init__`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def wirework_imports(path: Path, module: str | None = None) -> list[tuple[int, str]]:
    """Every `wirework.*` module this file imports (line, name), wherever the import sits."""
    tree = ast.parse(path.read_text())
    out: list[tuple[int, str]] = []
    module = module or module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "wirework"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] != "wirework":
                continue
            if base == "wirework":  # `from wirework import api`: the names are modules
                out += [(node.lineno, f"wirework.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, base))
    return out


def sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def upward(where: str, src: str, imports: list[tuple[int, str]]) -> list[str]:
    """The imports of one module (in package `src`, shown as `where`) that break a rule."""
    if src not in PLACE:
        return [f"{where}: package {src!r} has no layer in tests/unit/test_layers.py LAYERS"]
    s_rank, s_index, s_layer, ordered = PLACE[src]
    problems = []
    for line, target in imports:
        dst = package_of(target)
        if dst == src or dst not in PLACE:
            continue  # within a package; `wirework.__version__` and the like
        d_rank, d_index, d_layer, _ = PLACE[dst]
        if d_rank < s_rank or (d_rank == s_rank and (not ordered or d_index < s_index)):
            continue
        rule = (f"{s_layer} must not import {d_layer} (layers: {' < '.join(n for n, _, _ in LAYERS)})"
                if d_rank > s_rank else
                f"inside {s_layer}, {src} comes before {dst} ({' < '.join(LAYERS[s_rank][1])})")
        problems.append(f"{where}:{line} imports {target}: {rule}")
    return problems


def test_every_import_points_down() -> None:
    problems = [p for path in sources()
                for p in upward(str(path.relative_to(SRC.parent)), package_of(module_name(path)), wirework_imports(path))]
    assert not problems, "upward imports:\n" + "\n".join(problems)


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    """An import under TYPE_CHECKING or inside a function counts like any other."""
    copy = tmp_path / "links.py"
    copy.write_text((SRC / "drivers" / "links.py").read_text()
                    + "\nif TYPE_CHECKING:\n    from wirework.api import Wirework\n"
                    "def _f() -> None:\n    from ..networks import up\n")
    problems = upward("wirework/drivers/links.py", "drivers", wirework_imports(copy, "wirework.drivers.links"))
    assert [p.split(": ", 1)[0].split(" imports ")[1] for p in problems] == ["wirework.api", "wirework.networks"]


def test_nothing_below_the_api_imports_the_facade() -> None:
    below = {pkg for pkg, (rank, _, _, _) in PLACE.items() if rank < PLACE["api"][0]}
    offenders = [f"{path.relative_to(SRC.parent)}:{line} imports {target}"
                 for path in sources() if package_of(module_name(path)) in below
                 for line, target in wirework_imports(path) if package_of(target) == "api"]
    assert offenders == []


def test_the_cli_imports_no_adapter() -> None:
    """The CLI reaches kernel, guests and store only through `wirework.api`."""
    offenders = [f"{path.relative_to(SRC.parent)}:{line} imports {target}"
                 for path in (SRC / "cli").rglob("*.py") if path != SRC / "cli" / "main.py"
                 for line, target in wirework_imports(path) if package_of(target) in ("kernel", "guests", "store")]
    assert offenders == []


def test_no_package_holds_more_than_fourteen_modules() -> None:
    crowded = []
    for directory in [SRC, *(p for p in SRC.rglob("*") if p.is_dir() and p.name != "__pycache__")]:
        modules = [p for p in directory.glob("*.py") if p.name != "__init__.py"]
        if directory != SRC and len(modules) > MAX_MODULES:
            crowded.append(f"{directory.relative_to(SRC.parent)}: {len(modules)} modules")
    assert crowded == []


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


def test_journals_of_the_labs_own_namespace_steps_still_load() -> None:
    """The lab's namespace steps became the shared pair; older journals name the old kinds."""
    from wirework.drivers.namespaces import CreateNetns, DeleteNetns
    from wirework.plan.steps import step_from_dict

    assert step_from_dict({"kind": "lab_create_netns", "name": "ww-l1", "owner": "lab:l"}) == CreateNetns("ww-l1", "lab:l")
    assert step_from_dict({"kind": "lab_delete_netns", "name": "ww-l1", "owner": "lab:l"}) == DeleteNetns("ww-l1", "lab:l")


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

"""pyroute2 loads without its package __init__ (issue 7: ~0.2 s of the cold CLI), and the
full package still works for a program that wants it afterwards."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = ("pyroute2.ndb", "pyroute2.ipdb", "pyroute2.conntrack", "pyroute2.ipset", "pyroute2.nl80211")


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          timeout=120).stdout


def test_the_adapter_loads_only_what_it_uses() -> None:
    out = _run("import sys; import wirework.kernel.netlink;"
               f"print(sorted(m for m in sys.modules if m.startswith({HEAVY!r})))")
    assert out.strip() == "[]"


def test_the_full_package_still_works_after_and_before() -> None:
    out = _run("import wirework.kernel.netlink_lib as lib, pyroute2;"
               "print(pyroute2.NDB.__name__, pyroute2.IPRoute is lib.IPRoute)")
    assert out.split() == ["NDB", "True"]
    out = _run("import pyroute2, wirework.kernel.netlink_lib as lib; print(lib.IPRoute is pyroute2.IPRoute)")
    assert out.strip() == "True"


def test_validation_errors_do_not_import_pyroute2(tmp_path: Path) -> None:
    out = _run("import sys; from wirework.cli.app import run;"
               f"code = run(['attach', 'g', 'br0', '--ip', '10.0.0.300/24', '--state-dir', {str(tmp_path)!r}]);"
               "print(code, 'pyroute2' in sys.modules)")
    assert out.split()[-2:] == ["2", "False"]

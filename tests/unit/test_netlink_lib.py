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


def test_modules_pyroute2_imports_but_never_uses_here_are_not_loaded() -> None:
    """unittest.mock (for an unused class attribute) and pyroute2's netlink emulator stand in only
    while pyroute2 loads: afterwards a real import gets the real modules, and a stand-in fails
    loudly if pyroute2 ever uses it."""
    out = _run("import sys, wirework.kernel.netlink_lib as lib\n"
               "print('unittest' in sys.modules, 'pyroute2.iproute.ipmock' in sys.modules)\n"
               "import unittest.mock, pyroute2.netlink.rtnl.iprsocket as iprs\n"
               "print(unittest.mock.Mock.__module__, iprs.mock is not unittest.mock)\n"
               "try:\n    iprs.IPEngine().initdb()\nexcept RuntimeError as exc:\n    print('refused:', exc)\n"
               "with lib.IPRoute() as ipr:\n    print(len(ipr.get_links()) > 0)\n")
    lines = out.splitlines()
    assert lines[:2] == ["False False", "unittest.mock True"]
    assert lines[2].startswith("refused: pyroute2.iproute.ipmock.IPEngine() is a stand-in") and lines[3] == "True"
    out = _run("import unittest.mock, wirework.kernel.netlink_lib, pyroute2.netlink.rtnl.iprsocket as iprs;"
               "print(iprs.mock is unittest.mock)")
    assert out.strip() == "True"  # already loaded: the real one is used

"""The suite's own rule: a skipped test fails the run, without CI having to be set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_skipped_test_fails_the_run(tmp_path: Path) -> None:
    (tmp_path / "test_skipping.py").write_text(
        "import pytest\n\n"
        "def test_skipped():\n    pytest.skip('needs something')\n\n"
        "@pytest.mark.skip(reason='later')\ndef test_marked():\n    pass\n\n"
        "def test_fine():\n    pass\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-ra", "-p", "no:cacheprovider", "-p", "tests.conftest",
                           str(tmp_path / "test_skipping.py")], capture_output=True, text=True, env=env,
                          cwd=str(tmp_path), timeout=120, check=False)
    assert done.returncode == 1, done.stdout
    assert "1 failed, 1 passed, 1 error" in done.stdout  # a skip mark skips in setup: an error there
    assert "FAILED test_skipping.py::test_skipped - skipped (not allowed" in done.stdout
    assert "ERROR test_skipping.py::test_marked - skipped (not allowed" in done.stdout

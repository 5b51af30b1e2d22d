"""The `wirework` launcher scripts/setup.sh writes (wirework.cli.launcher): Python without `site`
or PYTHON* variables, this installation's paths written in, no interpreter teardown. Output must
still be complete and the exit status the command's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from wirework.cli.launcher import launcher_text, write_launcher


def test_the_launcher_runs_commands_like_the_cli(tmp_path: Path) -> None:
    launcher = write_launcher(str(tmp_path / "bin" / "wirework"))
    assert Path(launcher).read_text().startswith(f"#!{sys.executable} -SE\n") and os.access(launcher, os.X_OK)
    env = {"PATH": os.environ["PATH"], "WIREWORK_NO_SERVICE": "1", "WIREWORK_STATE_DIR": str(tmp_path / "state"),
           "PYTHONPATH": "/nonexistent"}  # ignored (-E)

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([launcher, *argv], env=env, capture_output=True, text=True, timeout=120, check=False)

    version = run("--version")
    assert (version.returncode, version.stdout.strip()) == (0, "wirework 0.1.0")
    listing = run("ls")  # in-process, output through a pipe: flushed before os._exit
    assert listing.returncode == 0 and listing.stdout.startswith("GUEST") and listing.stderr == ""
    bad = run("attach", "g", "br0", "--ip", "10.0.0.300/24")
    assert bad.returncode == 2 and bad.stdout == "" and bad.stderr.startswith("wirework: address '10.0.0.300/24'")
    help_text = run("--help")
    assert help_text.returncode == 0 and len(help_text.stdout.splitlines()) > 10  # a long output, all of it


def test_the_launcher_names_this_installation() -> None:
    text = launcher_text("/opt/py/bin/python")
    assert text.startswith("#!/opt/py/bin/python -SE\n") and "os._exit(code)" in text
    assert str(Path(__file__).parents[2] / "src") in text

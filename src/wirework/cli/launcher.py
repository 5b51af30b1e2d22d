"""The `wirework` launcher: the few lines of Python every command starts with, written with this
installation's paths in, so the interpreter starts as cheaply as it can.

The interpreter runs with -S -E: no `site` (its scan of the .pth files, and the imports some of
them run, cost ~3 ms of a ~12 ms start, paid by every command) and no PYTHON* variables of the
caller's environment; the directories it needs (wirework's and the installation's
site-packages) are written in. It ends with os._exit once the output is flushed: no interpreter
teardown (1-2 ms for a command the service ran; more after one that ran in-process, whose
files and sockets are all closed when it returns). pip's generic script (`bin/wirework`) cannot
carry interpreter flags (pip rewrites its first line), so `scripts/setup.sh` writes this one over
it (`python -m wirework.cli.launcher .venv/bin/wirework`), and `wirework cni install` writes the
same launcher for CNI runtimes: with no arguments and CNI_COMMAND set, it serves the CNI protocol.
"""

from __future__ import annotations

import os
import sys

_LAUNCHER = """#!{python} -SE
# wirework's launcher (wirework.cli.launcher): the CLI, and the CNI plugin ("type": "wirework").
import os, sys
sys.path[:0] = {paths!r}
from wirework.cli.main import main
code = main()
try:
    sys.stdout.flush()
    sys.stderr.flush()
finally:
    os._exit(code)  # everything is written and closed: skip the interpreter's teardown
"""


def launcher_text(python: str | None = None) -> str:
    import sysconfig

    import wirework

    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(wirework.__file__)))
    paths = list(dict.fromkeys([package_parent, sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]))
    return _LAUNCHER.format(python=python or sys.executable, paths=paths)


def write_launcher(path: str, python: str | None = None) -> str:
    """Write (or replace, atomically) the launcher at `path`; returns it."""
    os.makedirs(os.path.dirname(path) or ".", mode=0o755, exist_ok=True)
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as f:
        f.write(launcher_text(python))
    os.chmod(temporary, 0o755)
    os.replace(temporary, path)
    return path


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m wirework.cli.launcher PATH (e.g. .venv/bin/wirework)")
    print(f"wrote the wirework launcher {write_launcher(sys.argv[1])}")

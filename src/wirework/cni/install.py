"""The launcher runtimes exec: an executable named `wirework` in a CNI plugin directory.

It is a few lines of Python run by this installation's interpreter (an absolute path, so
the runtime's PATH and working directory do not matter); with no arguments and CNI_COMMAND
set, `wirework.cli.main` serves the CNI protocol, forwarding to the resident service when
one runs (standard library only on that path) and running in-process otherwise.

The interpreter starts with -S -E: no `site` scan of the .pth files (~6 ms of a ~20 ms
start, paid on every exec) and no PYTHON* variables of the runtime's environment; the two
directories it needs (wirework's and the installation's site-packages) are written in.
"""

from __future__ import annotations

import os
import sys
import sysconfig

DEFAULT_DIR = "/opt/cni/bin"
PLUGIN_NAME = "wirework"

_LAUNCHER = """#!{python} -SE
# wirework as a CNI plugin ("type": "wirework"); written by `wirework cni install`.
import os, sys
sys.path[:0] = {paths!r}
from wirework.cli.main import main
code = main()
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)  # everything is written and closed: skip the interpreter's teardown (~4 ms of CPU)
"""


def launcher_text(python: str | None = None) -> str:
    import wirework

    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(wirework.__file__)))
    paths = list(dict.fromkeys([package_parent, sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]))
    return _LAUNCHER.format(python=python or sys.executable, paths=paths)


def install(directory: str = DEFAULT_DIR, python: str | None = None) -> str:
    """Write (or replace, atomically) DIR/wirework; returns its path."""
    os.makedirs(directory, mode=0o755, exist_ok=True)
    path = os.path.join(directory, PLUGIN_NAME)
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as f:
        f.write(launcher_text(python))
    os.chmod(temporary, 0o755)
    os.replace(temporary, path)
    return path

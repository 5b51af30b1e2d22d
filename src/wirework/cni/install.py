"""The launcher runtimes exec: an executable named `wirework` in a CNI plugin directory.

It is a few lines of Python run by this installation's interpreter (an absolute path, so
the runtime's PATH and working directory do not matter); with no arguments and CNI_COMMAND
set, `wirework.cli.main` serves the CNI protocol, forwarding to the resident service when
one runs (standard library only on that path) and running in-process otherwise.

It is the CLI's own launcher (`wirework.cli.launcher`: -S -E, paths written in, no teardown).
"""

from __future__ import annotations

import os

from wirework.cli.launcher import launcher_text as shared_launcher_text
from wirework.cli.launcher import write_launcher

DEFAULT_DIR = "/opt/cni/bin"
PLUGIN_NAME = "wirework"


def launcher_text(python: str | None = None) -> str:
    return shared_launcher_text(python)


def install(directory: str = DEFAULT_DIR, python: str | None = None) -> str:
    """Write (or replace, atomically) DIR/wirework; returns its path."""
    return write_launcher(os.path.join(directory, PLUGIN_NAME), python)

"""Running a delegated CNI plugin (the IPAM plugin a configuration names) as runtimes do.

CNI spec, section 4: the program is looked up in the `CNI_PATH` directories and run with the
very environment and configuration the calling plugin received; its stderr goes to ours.
The environment is passed explicitly (never this process's own): inside the resident
service it is the request's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from wirework.kernel.proc import SYSTEM_PATH


@dataclass(frozen=True)
class PluginRun:
    code: int
    stdout: str
    stderr: str


def find_plugin(name: str, cni_path: str) -> str | None:
    """The first executable file NAME in the CNI_PATH directories, or None."""
    for folder in cni_path.split(os.pathsep):
        if not folder:
            continue
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def exec_plugin(program: str, env: Mapping[str, str], stdin: str, *, timeout: float = 60.0) -> PluginRun:
    """Run a plugin program (an absolute path from `find_plugin`) with this env and stdin."""
    full_env = {"PATH": SYSTEM_PATH, **env}
    done = subprocess.run([program], input=stdin, capture_output=True, text=True, env=full_env,
                          timeout=timeout, check=False)
    if done.stderr:
        sys.stderr.write(done.stderr)
    return PluginRun(done.returncode, done.stdout, done.stderr)


def delegate(plugin: str, command: str, env: Mapping[str, str], stdin: str) -> PluginRun | None:
    """Run the delegated plugin `plugin` from CNI_PATH with CNI_COMMAND=command (None: not found)."""
    program = find_plugin(plugin, env.get("CNI_PATH", ""))
    if program is None:
        return None
    return exec_plugin(program, {**env, "CNI_COMMAND": command}, stdin)

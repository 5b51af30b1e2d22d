"""Helpers for the network tests: guests, state snapshots, the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import sh, snapshot

WIREWORK = [sys.executable, "-m", "wirework.cli.main"]


def world(ns: str, guests: list[str], state_dir: str) -> str:
    """Everything that must be unchanged after a refused or rolled-back command."""
    from wirework.store.sqlite import SqliteStore

    parts = [snapshot(ns), sh("nft", "list", "ruleset", ns=ns)]
    parts += [snapshot(g) for g in guests]
    store = SqliteStore(os.path.join(state_dir, "state.db"))
    parts.append("\n".join(f"{e.key}={e.value}" for e in store.scan("") if not e.key.startswith("ops/")))
    store.close()
    # IPv6 link-local addresses and routes come and go by themselves (DAD, carrier): not ours.
    # So does a bridge's carrier (on while it never had a port, off after its last one left).
    text = "\n=====\n".join(parts).replace("<,", "<").replace(" linkdown", "")
    lines = text.splitlines()
    return "\n".join(ln for ln in lines if not any(t in ln for t in ("inet6", "fe80", "ff00::", "::1 ")))


def cli(host: str, state_dir: str, *args: str, env: dict[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "WIREWORK_NO_SERVICE": "1", **(env or {})}
    common = ["--netns", host, "--state-dir", state_dir]
    argv = list(args)
    cut = argv.index("--") if "--" in argv else len(argv)  # before a command's own arguments
    argv[cut:cut] = common
    done = subprocess.run([*WIREWORK, *argv], capture_output=True,
                          text=True, timeout=60, env=full_env, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"wirework {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


"""Starting a guest's process inside a network namespace (`wirework run`).

nsenter moves only the program (it execs the command after setns, so the pid we get is the
command's own); no shell is involved. A foreground run inherits this terminal; a detached
run gets its own session and a log file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time


def _argv(argv: list[str], netns_path: str | None) -> list[str]:
    return ["nsenter", f"--net={netns_path}", "--", *argv] if netns_path else list(argv)


def run_foreground(argv: list[str], netns_path: str | None, *,
                   capture: bool = False) -> tuple[int, str | None, str | None]:
    """Run the command to its end with this terminal (or its output captured); its exit status."""
    try:
        done = subprocess.run(_argv(argv, netns_path), check=False, capture_output=capture,
                              text=True if capture else None)
    except FileNotFoundError:
        return 127, ("" if capture else None), (f"{argv[0]}: not found\n" if capture else None)
    return done.returncode, done.stdout, done.stderr


def start_detached(argv: list[str], netns_path: str | None, log_path: str) -> int:
    """Start the command in the background (own session, output to log_path); its pid."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(_argv(argv, netns_path), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    return proc.pid


def stop(pid: int, timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; a pid that is already gone is fine."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if _wait_gone(pid, timeout):
            return


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True  # our child, reaped
        except ChildProcessError:
            if not os.path.exists(f"/proc/{pid}"):
                return True
        time.sleep(0.02)
    return False

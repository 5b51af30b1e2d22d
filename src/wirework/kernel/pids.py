"""Is the process that wrote a record still alive? A pid plus its start time pins one process.

A pid alone can be reused after the process ends; the start time (field 22 of
/proc/PID/stat, in clock ticks since boot) cannot, so records that name a process (journals,
IPAM leases, guests started by `wirework run`) store both.
"""

from __future__ import annotations


def process_start(pid: int) -> str:
    """The start time of `pid` from /proc ("" when there is no such process)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except OSError:
        return ""


def process_alive(pid: int, start: object) -> bool:
    """True when `pid` runs and is the very process that started at `start`."""
    return pid > 0 and bool(start) and process_start(pid) == start

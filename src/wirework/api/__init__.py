"""The public Python API (api layer), and the one place real adapters are built.

Rule: fronts (CLI, service, plugins) and users talk to `Wirework`; it builds the adapters,
wraps them in a `context.HostContext` and calls the policy packages, which never import it.

    import wirework
    ww = wirework.Wirework()                 # the real host; Wirework(netns="h1") for a lab host
    att = ww.attach("my-test1", "br0", ip="192.168.114.100/24", gateway="192.168.114.1")
    ww.detach("my-test1")

Every operation validates its input, plans, and runs the plan through the executor; with
`dry_run=True` it returns the plan instead of running it. Modules: `session` (the `Wirework`
facade, with `networks` and `uplinks` holding its network, uplink and tunnel methods),
`lab` and `lab_runtime` (what the lab needs built: per-host sessions, the switch namespace's
adapters), `env` (the few adapter services the CLI needs outside a session).
"""

from __future__ import annotations

from typing import Any

from wirework.api.session import OVS_DB_ENV, Wirework
from wirework.attachments.listing import AttachmentStatus, GuestReport
from wirework.attachments.ops import AttachResult
from wirework.attachments.records import Attachment

__all__ = ["OVS_DB_ENV", "AttachResult", "AttachmentStatus", "GuestReport", "Wirework",
           "attach", "detach", "inspect", "ls"]

# -- module-level shortcuts: one default session on the real host ---------------------------
_default: Wirework | None = None


def _session() -> Wirework:
    global _default
    if _default is None:
        _default = Wirework()
    return _default


def attach(guest: str, host_if: str = "", **options: Any) -> AttachResult:
    """`wirework.attach("my-test1", "br0", ip="192.168.114.100/24")` on the real host."""
    return _session().attach(guest, host_if, **options)


def detach(guest: str, ifname: str | None = None) -> list[Attachment]:
    return _session().detach(guest, ifname)


def ls() -> list[AttachmentStatus]:
    return _session().ls()


def inspect(guest: str) -> GuestReport:
    return _session().inspect(guest)

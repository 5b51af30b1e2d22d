"""How doctor writes a fix: a real command for the host it looks at (`--netns`) and its OVS."""

from __future__ import annotations

from wirework.context import HostContext
from wirework.plan.commands import for_host


def here(ctx: HostContext, command: str) -> str:
    """A command written for "the host", placed in the host's namespace (--netns) and OVS."""
    return for_host(command, ctx.host.netns, getattr(ctx.host, "ovs_db", None))


def wirework(ctx: HostContext, words: str) -> str:
    """A wirework command line for this host."""
    return f"wirework {words}" + (f" --netns {ctx.host.netns}" if ctx.host.netns else "")

"""The names a user may have meant, for "did you mean" when a guest is not found."""

from __future__ import annotations

import os

from wirework.attachments import records
from wirework.context import HostContext
from wirework.kernel.netns import NETNS_RUN_DIR
from wirework.networks import endpoints, modes


def guest_names(ctx: HostContext) -> list[str]:
    """Guests wirework knows on this host, running containers and named namespaces."""
    names = {a.guest.name for a in records.all_for_host(ctx.store, ctx.host_id)}
    names |= {e.guest.name for e in endpoints.all_endpoints(ctx.store, ctx.host_id)}
    names |= {r.name for r in modes.all_runs(ctx)}
    try:
        names |= set(os.listdir(NETNS_RUN_DIR))
    except OSError:
        pass
    if ctx.docker.available():
        names |= {n.lstrip("/") for c in ctx.docker.containers() for n in c.get("Names") or []}
    return sorted(n for n in names if n)

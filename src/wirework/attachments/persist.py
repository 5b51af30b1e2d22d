"""Attachments of Docker containers outlive the container's stops (pipework's oldest complaint).

A container that stops loses its namespace and with it the guest end of every interface
wirework put there. pipework forgets; wirework keeps the record and the address claim, removes
what the stop left on the host side (an OVS port, a DHCP client), and wires the container again
with the same spec when it starts (same address, MAC, gateway, and the `route`/`rule`/`tc`
commands run in it since), driven by Docker's events in the resident service or by `wirework
up`. A container's removal releases everything. `--once` (`AttachSpec.once`) keeps pipework's
one-shot behaviour: the attachment is forgotten when its container stops.

States of an attachment (`state_of`): ok, link-missing, guest-gone (the guest no longer
exists), and for Docker containers stopped, restarted (running again in a new namespace, not
yet wired again) and docker-unreachable (Docker did not answer: nothing is decided).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from wirework.attachments import records
from wirework.attachments.attach import plan_detach
from wirework.attachments.records import Attachment
from wirework.context import HostContext
from wirework.drivers.switch import RemoveForwardAccept
from wirework.errors import ServiceError, WireworkError
from wirework.kernel.netns import netns_id
from wirework.kernel.proc import process_start
from wirework.naming import short_hash
from wirework.plan.executor import run_best_effort
from wirework.store.base import Compare, Delete

DOCKER_KEY = "docker:"
GCMD_PREFIX = "gcmd/"
#: States in which the record waits for its container to start again.
WAITING = ("stopped", "restarted")


def container_id(att: Attachment) -> str | None:
    """The Docker container behind a (wirework-made) attachment, None for other guests."""
    if att.made_by != "wirework" or att.guest.kind != "docker" or not att.guest.key.startswith(DOCKER_KEY):
        return None
    return att.guest.key[len(DOCKER_KEY):]


def container_state(ctx: HostContext, cid: str) -> tuple[str, str | None, int]:
    """(state, netns id, pid): state is running, stopped, removed or unknown (no answer)."""
    try:
        info = ctx.docker.inspect(cid)
    except ServiceError:
        return "unknown", None, 0
    if info is None:
        return "removed", None, 0
    state = info.get("State") or {}
    pid = int(state.get("Pid") or 0)
    if not state.get("Running") or pid <= 0:
        return "stopped", None, 0
    try:
        return "running", netns_id(f"/proc/{pid}/ns/net"), pid
    except WireworkError:
        return "stopped", None, 0  # it exited between the two reads


def same_run(guest_netns_id: str, guest_pid: int | None, netns: str | None, pid: int) -> bool:
    """Whether a running container is the run that was wired. A namespace's inode number is
    reused at once by the kernel, so the pid is compared too."""
    return netns == guest_netns_id and pid == (guest_pid or 0)


def state_of(ctx: HostContext, att: Attachment) -> str:
    if att.made_by == "docker":  # Docker decides when its endpoints go; only the host end is ours
        return _link_state(ctx, att)
    cid = container_id(att)
    if cid is None:
        alive = _ns_now(att) == att.guest.netns_id and _same_process(att)
        return _link_state(ctx, att) if alive else "guest-gone"
    state, ns, pid = container_state(ctx, cid)
    if state == "running":
        return _link_state(ctx, att) if same_run(att.guest.netns_id, att.guest.pid, ns, pid) else "restarted"
    return {"stopped": "stopped", "removed": "guest-gone"}.get(state, "docker-unreachable")


def gone(att: Attachment, state: str) -> bool:
    """Whether gc (and an attach wanting its address) removes it: its guest no longer exists, its
    host end was removed, or its container stopped and it was made --once."""
    if att.made_by != "wirework":
        return False  # Docker's: Docker removes them (and the plugin's resync what Docker forgot)
    return state in ("guest-gone", "link-missing") or (state in WAITING and att.spec.once)


def _same_process(att: Attachment) -> bool:
    """A `pid:` guest's key pins the process's start time: a reused PID is another process."""
    if att.guest.kind != "pid" or att.guest.pid is None:
        return True
    return process_start(att.guest.pid) == att.guest.key.rsplit(":", 1)[-1]


def _link_state(ctx: HostContext, att: Attachment) -> str:
    if att.host_ifname and ctx.host.net.link(att.host_ifname) is None:
        return "link-missing"
    return "ok"


def _ns_now(att: Attachment) -> str | None:
    try:
        return netns_id(att.guest.netns_path)
    except WireworkError:
        return None


def suspend(ctx: HostContext, att: Attachment) -> list[str]:
    """The container stopped: remove what its stop left on the host side, keep record and claim."""
    if att.suspended:
        return []
    ctx.before_change()
    steps = [s for s in plan_detach(att, None, 1).steps if not isinstance(s, RemoveForwardAccept)]
    errors = run_best_effort(ctx.host, steps)
    entry = ctx.store.get(records.att_key(att.host, att.id))
    if entry is not None and Attachment.from_dict(entry.value).owner == att.owner:
        ctx.store.txn([Compare(entry.key, entry.revision)], [records.put_op(replace(att, suspended=True))])
    return errors


# -- commands run inside a container (pipework route/rule/tc), replayed after a restart --------
def _gcmd_prefix(host: str, guest_key: str) -> str:
    return f"{GCMD_PREFIX}{host}/{short_hash(guest_key, length=16)}/"


def remember_guest_command(ctx: HostContext, guest_key: str, what: str, args: list[str]) -> None:
    key = f"{_gcmd_prefix(ctx.host_id, guest_key)}{time.time_ns():020d}"
    ctx.store.put(key, {"guest": guest_key, "what": what, "args": list(args)})


def guest_commands(ctx: HostContext, guest_key: str) -> list[dict[str, Any]]:
    return [dict(e.value) for e in ctx.store.scan(_gcmd_prefix(ctx.host_id, guest_key))]


def forget_guest_commands(ctx: HostContext, guest_key: str) -> None:
    keys = [e.key for e in ctx.store.scan(_gcmd_prefix(ctx.host_id, guest_key))]
    if keys:
        ctx.store.txn([], [Delete(k) for k in keys])


def has_commands(ctx: HostContext, guest_key: str) -> bool:
    return bool(ctx.store.scan(_gcmd_prefix(ctx.host_id, guest_key)))

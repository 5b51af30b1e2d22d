"""Wiring a Docker container again when it starts, and letting go when it is removed.

The operations behind the resident service's Docker events and `wirework up` (see
`attachments.persist` for the states): `reapply_container` re-runs each waiting attachment's own
spec against the container's new namespace (the address claim is still held, the MAC is derived
from the attachment id, so both come back the same), and `replay_commands` the guest commands;
`settle_container` suspends the attachments of a stopped container (or forgets them, `--once`)
and releases those of a removed one. Attachments that belong to a network connection are left to
`networks` (their ids come in `skip`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from wirework.attachments import persist
from wirework.attachments.ops import attach_spec, guest_command, host_records, ns_id_now, teardown
from wirework.attachments.records import Attachment
from wirework.context import HostContext
from wirework.errors import WireworkError
from wirework.model.guest import Guest


def of_container(ctx: HostContext, cid: str, skip: Collection[str] = ()) -> list[Attachment]:
    return [a for a in host_records(ctx) if persist.container_id(a) == cid and a.id not in skip]


def reapply_container(ctx: HostContext, cid: str, skip: Collection[str] = (), *, guest: Guest | None = None) -> list[str]:
    """Wire the (running) container again with every attachment waiting for it; one line each.
    `guest`: the container as just resolved (saves a Docker call per attachment)."""
    out: list[str] = []
    atts = of_container(ctx, cid, skip)
    if guest is None:
        waiting = [a for a in atts if persist.state_of(ctx, a) in persist.WAITING]
    else:
        waiting = [a for a in atts if not persist.same_run(a.guest.netns_id, a.guest.pid, guest.netns_id, guest.pid or 0)]
    for att in waiting:
        if att.spec.once:
            _forget(ctx, att)
            out.append(f"{att.guest.name} {att.cont_ifname}: restarted; attached --once, so forgotten")
            continue
        try:
            attach_spec(ctx, replace(att.spec, guest=f"{persist.DOCKER_KEY}{cid}"), guest=guest)
            out.append(f"{att.guest.name} {att.cont_ifname}: wired again with {att.cidr or 'DHCP'} -> {att.host_if}")
        except WireworkError as exc:
            out.append(f"{att.guest.name} {att.cont_ifname}: could not be wired again: {exc}")
    return out


def replay_commands(ctx: HostContext, guest_key: str, name: str) -> list[str]:
    out = []
    for cmd in persist.guest_commands(ctx, guest_key):
        try:
            guest_command(ctx, cmd["what"], guest_key, list(cmd["args"]), remember=False)
            out.append(f"{name}: {cmd['what']} {' '.join(cmd['args'])} again")
        except WireworkError as exc:
            out.append(f"{name}: {cmd['what']} {' '.join(cmd['args'])} failed again: {exc}")
    return out


def settle_container(ctx: HostContext, cid: str, skip: Collection[str] = ()) -> list[str]:
    """After a stop or a removal: suspend (or forget, --once) or release each attachment."""
    out: list[str] = []
    for att in of_container(ctx, cid, skip):
        state = persist.state_of(ctx, att)
        if state == "guest-gone" or (state in persist.WAITING and att.spec.once):
            _forget(ctx, att)
            out.append(f"{att.guest.name} {att.cont_ifname}: {'removed' if state == 'guest-gone' else 'stopped'}, "
                       f"released {att.cidr or 'its interface'}")
        elif state == "stopped" and not att.suspended:
            persist.suspend(ctx, att)  # (running again already: its start is next, which rewires it)
    if persist.container_state(ctx, cid)[0] == "removed":
        persist.forget_guest_commands(ctx, f"{persist.DOCKER_KEY}{cid}")
    return out


def _forget(ctx: HostContext, att: Attachment) -> None:
    try:
        teardown(ctx, att, ns_id_now(att))
    except WireworkError:
        pass  # the record is gone and the rest was removed; doctor reports what is left

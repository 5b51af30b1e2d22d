"""The `connect` kind: a lab guest on a cluster network (`guests: c1: {connect: blue}`).

The host's agent may still be joining when the guest's turn comes: the connect waits until the
network has reached the host (its own store holds the materialised network), then connects
through the host's session exactly as `wirework connect` does.
"""

from __future__ import annotations

import time

from wirework.errors import Conflict, NotFound
from wirework.lab.kind import Kind, Session, Undo
from wirework.lab.model import Item

CONNECT_TIMEOUT = 60.0


def _apply_connect(ww: Session, item: Item, owner: str) -> Undo:
    """Connect once this host's agent has built its part of the network (it may be joining)."""
    network, guest = str(item.arg("network")), str(item.arg("guest"))
    deadline = time.monotonic() + CONNECT_TIMEOUT
    while True:
        try:
            result = ww.connect(network, guest, ifname=item.arg("ifname"))
            break
        except NotFound as exc:
            if exc.fields.get("what") != "network":
                raise  # the guest itself, say: no point in waiting
            if time.monotonic() > deadline:
                raise Conflict(f"cluster network {network} did not reach lab host {item.host} within "
                               f"{CONNECT_TIMEOUT:g} s; see its agent's log") from None
            time.sleep(0.1)
    return {"network": network, "guest": guest} if result.changed else None


def _remove_connect(ww: Session, item: Item, undo: Undo) -> None:
    if isinstance(undo, dict):
        ww.disconnect(undo["network"], undo["guest"])


CONNECT = Kind("connect", describe=lambda i: f"connect {i.arg('guest_name', i.arg('guest'))} to cluster network "
                                               f"{i.arg('network')}",
               apply=_apply_connect, remove=_remove_connect)

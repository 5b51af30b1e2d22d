"""Firewall steps for published ports: two map elements per port, each step one nft batch.

Publishing creates the elements (O(1) in the map size); unpublishing removes them only while
they still point at this guest's address and port. See the package docstring for why ports
are map elements and never rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wirework.errors import Conflict
from wirework.firewall import render as r
from wirework.firewall import text
from wirework.firewall.links import create_or_confirm
from wirework.firewall.model import PortMapping
from wirework.model.host import Host
from wirework.naming import tag
from wirework.plan.steps import Step, register


@register
@dataclass(frozen=True)
class PublishPort(Step):
    """Two map elements: DNAT host port -> guest address and port (O(1) in the map size)."""

    kind = "fw_publish_port"
    mapping: PortMapping

    def apply(self, host: Host) -> Sequence[Step]:
        m = self.mapping
        try:
            return [UnpublishPort(m)] if create_or_confirm(host, lambda how: r.render_port(m, how)) else ()
        except Conflict:
            held = host.nft.get_element("inet", "wirework", r.port_maps(m)[0], r.port_key_text(m))
            holder = f" (to {held[0]})" if held else ""
            # Only a port no record knows gets here (connect checks the records first).
            raise Conflict(f"host port {m.text().split('->')[0]} is already published{holder} for a guest "
                           f"wirework has no record of; choose another host port, or clear stale ports "
                           f"with 'wirework up' (see 'wirework doctor')") from None

    def crash_undo(self) -> Sequence[Step]:
        return [UnpublishPort(self.mapping)]

    def changes_existing(self) -> bool:
        return False  # the crash undo removes the port only while it points at this very guest

    def describe(self) -> str:
        m = self.mapping
        return f"publish {m.text()} to {m.guest_ip} on network {m.network} ({tag(m.owner or 'net:' + m.network)})"

    def commands(self) -> list[str]:
        return text.port(self.mapping)


@register
@dataclass(frozen=True)
class UnpublishPort(Step):
    """Remove a published port, only if the maps still point it at this guest's address and port."""

    kind = "fw_unpublish_port"
    mapping: PortMapping

    def apply(self, host: Host) -> Sequence[Step]:
        # One batch, O(1) whatever the number of ports (nft's `get element` loads the whole map,
        # and a rejected batch costs ~10 ms in the kernel): `add` of the same key and values
        # fails only when the port points at another guest (then it is not ours to remove).
        # Success cannot tell "was ours" from "was absent"; the undo re-publishes either way,
        # i.e. rollback restores what the caller's records say was there.
        m = self.mapping
        try:
            host.nft.run(r.render_port(m, "add") + r.render_port_removal(m))
        except Conflict:
            return ()
        return [PublishPort(m)]

    def prepare(self, host: Host) -> Sequence[Step]:
        return [PublishPort(self.mapping)]  # like its undo: the caller's records say it was there

    def describe(self) -> str:
        return f"unpublish {self.mapping.text()} (guest {self.mapping.guest_ip})"

    def commands(self) -> list[str]:
        return text.unport(self.mapping)

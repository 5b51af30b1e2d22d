"""Firewall steps that link two networks (networks are isolated from each other otherwise): the
pair of bridges, both ways, in the `links` sets of both tables; one nft batch each, with the
exact undo. Also the create-or-confirm batch that `ports.PublishPort` shares.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from wirework.errors import Conflict, NotFound
from wirework.firewall import render as r
from wirework.firewall import text
from wirework.firewall.nftjson import Json
from wirework.firewall.state import bridges_by_network, link_pairs
from wirework.model.host import Host
from wirework.plan.steps import Step, register


def create_or_confirm(host: Host, render: Callable[[str], list[Json]]) -> bool:
    """Run the batch `render("create")`; when what it creates is there already, `render("add")`,
    which succeeds only when it is the same (else its Conflict goes up). True when created:
    only then is there something for the step's undo to remove."""
    try:
        host.nft.run(render("create"))
    except Conflict:
        host.nft.run(render("add"))
        return False
    return True



@register
@dataclass(frozen=True)
class LinkNetworks(Step):
    """Allow traffic between two networks (isolated from each other otherwise)."""

    kind = "fw_link_networks"
    a: str
    b: str
    #: the networks' bridges as planned (for the printed commands; apply looks them up)
    bridge_a: str = ""
    bridge_b: str = ""

    def _bridges(self, host: Host) -> tuple[str, str]:
        known = bridges_by_network(host)
        for name in (self.a, self.b):
            if name not in known:
                raise NotFound(what="network with firewall rules", name=name, fix="create the network first")
        return known[self.a], known[self.b]

    def apply(self, host: Host) -> Sequence[Step]:
        ba, bb = self._bridges(host)
        owner = r.link_owner(self.a, self.b)
        if not create_or_confirm(host, lambda how: r.render_link(ba, bb, owner, how)):
            return ()
        return [UnlinkNetworks(self.a, self.b, self.bridge_a, self.bridge_b)]

    def prepare(self, host: Host) -> Sequence[Step]:
        return () if _linked(host, self.a, self.b) else [UnlinkNetworks(self.a, self.b, self.bridge_a, self.bridge_b)]

    def describe(self) -> str:
        return f"allow traffic between networks {self.a} and {self.b}"

    def commands(self) -> list[str]:
        return text.link(self.bridge_a or f"<bridge of {self.a}>", self.bridge_b or f"<bridge of {self.b}>",
                         r.link_owner(self.a, self.b))


@register
@dataclass(frozen=True)
class UnlinkNetworks(Step):
    kind = "fw_unlink_networks"
    a: str
    b: str
    bridge_a: str = ""
    bridge_b: str = ""

    def apply(self, host: Host) -> Sequence[Step]:
        known = bridges_by_network(host)
        if self.a not in known or self.b not in known:
            return ()
        try:
            host.nft.run(r.render_unlink(known[self.a], known[self.b]))
        except NotFound:
            return ()
        return [LinkNetworks(self.a, self.b, self.bridge_a, self.bridge_b)]

    def prepare(self, host: Host) -> Sequence[Step]:
        return [LinkNetworks(self.a, self.b, self.bridge_a, self.bridge_b)] if _linked(host, self.a, self.b) else ()

    def describe(self) -> str:
        return f"isolate networks {self.a} and {self.b} from each other again"

    def commands(self) -> list[str]:
        return text.unlink(self.bridge_a or f"<bridge of {self.a}>", self.bridge_b or f"<bridge of {self.b}>")


def _linked(host: Host, a: str, b: str) -> bool:
    known = bridges_by_network(host)
    if a not in known or b not in known:
        return False
    pair = {known[a], known[b]}
    return any({x, y} == pair for x, y in link_pairs(host))

"""Steps on addresses, routes and rules: each one netlink change with its exact undo.

Removal steps tolerate absence; steps on a link the plan itself created are `fresh` (no undo
of their own: deleting the link undoes them). The others change what may have existed
before: `prepare` looks whether the address, route or rule is there now, so the undo the
executor journals before the step runs is exact whether or not the step then gets to run.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from wirework.drivers.links import where
from wirework.model.addr import parse_cidr
from wirework.model.host import Host, RouteInfo, RouteSpec, RuleInfo, RuleSpec
from wirework.plan.commands import ip_in
from wirework.plan.steps import Step, register


def has_address(host: Host, ifname: str, cidr: str, ns: str | None) -> bool:
    want = ipaddress.ip_interface(cidr)
    return any(ipaddress.ip_interface(a.cidr) == want for a in host.net.addresses(ns, ifname))


def _same_route(r: RouteInfo, want: RouteSpec) -> bool:
    # The kernel fills in what the request left out (an IPv6 metric of 1024, say).
    default_metric = r.metric in (0, 1024) if not want.metric else r.metric == want.metric
    return (r.dst == want.dst and default_metric and (not want.gateway or r.gateway == want.gateway)
            and (not want.dev or r.dev == want.dev))


def has_route(host: Host, route: RouteSpec, ns: str | None) -> bool:
    return any(_same_route(r, route) for r in host.net.routes(ns, table=route.table))


def _same_rule(r: RuleInfo, want: RuleSpec) -> bool:
    return ((not want.priority or r.priority == want.priority) and r.table == want.table and r.src == want.src
            and r.dst == want.dst and r.iif == want.iif and r.oif == want.oif and r.fwmark == want.fwmark)


def has_rule(host: Host, rule: RuleSpec, ns: str | None) -> bool:
    return any(_same_rule(r, rule) for r in host.net.rules(ns))


@register
@dataclass(frozen=True)
class AddAddress(Step):
    kind = "add_address"
    ifname: str
    cidr: str
    ns: str | None = None
    fresh: bool = False  # on a link this plan created: the address goes with the link

    def apply(self, host: Host) -> Sequence[Step]:
        if host.net.add_address(self.ifname, parse_cidr(self.cidr), self.ns) and not self.fresh:
            return [DelAddress(self.ifname, self.cidr, self.ns)]
        return ()

    def changes_existing(self) -> bool:
        return not self.fresh

    def prepare(self, host: Host) -> Sequence[Step]:
        if host.net.link(self.ifname, self.ns) is None or has_address(host, self.ifname, self.cidr, self.ns):
            return ()
        return [DelAddress(self.ifname, self.cidr, self.ns)]

    def describe(self) -> str:
        return f"add address {self.cidr} to {self.ifname}{where(self.ns)}"

    def commands(self) -> list[str]:
        return [f"{ip_in(self.ns)} addr add {self.cidr} dev {self.ifname}"]


@register
@dataclass(frozen=True)
class DelAddress(Step):
    kind = "del_address"
    ifname: str
    cidr: str
    ns: str | None = None

    def apply(self, host: Host) -> Sequence[Step]:
        removed = host.net.del_address(self.ifname, parse_cidr(self.cidr), self.ns)
        return [AddAddress(self.ifname, self.cidr, self.ns)] if removed else ()

    def prepare(self, host: Host) -> Sequence[Step]:
        return [AddAddress(self.ifname, self.cidr, self.ns)] if has_address(host, self.ifname, self.cidr, self.ns) else ()

    def describe(self) -> str:
        return f"remove address {self.cidr} from {self.ifname}{where(self.ns)}"

    def commands(self) -> list[str]:
        return [f"{ip_in(self.ns)} addr del {self.cidr} dev {self.ifname}"]


#: rtnetlink's route protocols by the names `ip route` prints and accepts (rt_protos).
PROTO_NAMES = {1: "redirect", 2: "kernel", 3: "boot", 4: "static", 16: "dhcp"}


def _route_text(r: RouteSpec, *, command: bool = False) -> str:
    parts = [r.dst]
    if r.gateway:
        parts += ["via", r.gateway]
    if r.dev:
        parts += ["dev", r.dev]
    if r.src:
        parts += ["src", r.src]
    if r.metric:
        parts += ["metric", str(r.metric)]
    if r.table != 254:
        parts += ["table", str(r.table)]
    if r.scope:
        parts += ["scope", r.scope]
    if r.onlink:
        parts.append("onlink")
    if r.proto or command:
        # Unset, netlink (pyroute2) adds routes as "static" where `ip route` would say "boot".
        parts += ["proto", PROTO_NAMES.get(r.proto or 4, str(r.proto))]
    return " ".join(parts)


@register
@dataclass(frozen=True)
class AddRoute(Step):
    kind = "add_route"
    route: RouteSpec
    ns: str | None = None
    fresh: bool = False  # through a link this plan created: the route goes with the link

    def apply(self, host: Host) -> Sequence[Step]:
        added = host.net.add_route(self.route, self.ns)
        return [DelRoute(self.route, self.ns)] if added and not self.fresh else ()

    def crash_undo(self) -> Sequence[Step]:
        # What journals of older versions ran: a route through a named device that the plan
        # may have added (the guest's new default), removed so the default it replaced can
        # come back (one per table). Current journals record `prepare` instead.
        return [DelRoute(self.route, self.ns)] if self.route.dev and not self.fresh else ()

    def changes_existing(self) -> bool:
        return not self.fresh

    def prepare(self, host: Host) -> Sequence[Step]:
        return () if has_route(host, self.route, self.ns) else [DelRoute(self.route, self.ns)]

    def describe(self) -> str:
        return f"add route {_route_text(self.route)}{where(self.ns)}"

    def commands(self) -> list[str]:
        return [f"{ip_in(self.ns)} route add {_route_text(self.route, command=True)}"]


@register
@dataclass(frozen=True)
class DelRoute(Step):
    kind = "del_route"
    route: RouteSpec
    ns: str | None = None

    def apply(self, host: Host) -> Sequence[Step]:
        removed = host.net.del_route(self.route, self.ns)
        return [AddRoute(self.route, self.ns)] if removed else ()

    def crash_undo(self) -> Sequence[Step]:
        # Putting the route back is safe whether or not it was removed ("exists" is a no-op).
        return [AddRoute(self.route, self.ns)]

    def prepare(self, host: Host) -> Sequence[Step]:
        return [AddRoute(self.route, self.ns)] if has_route(host, self.route, self.ns) else ()

    def describe(self) -> str:
        return f"remove route {_route_text(self.route)}{where(self.ns)}"

    def commands(self) -> list[str]:
        return [f"{ip_in(self.ns)} route del {_route_text(self.route, command=True)}"]


@register
@dataclass(frozen=True)
class ReplaceRoute(Step):
    """`ip route replace`: its undo puts back exactly the route it displaced, or removes it."""

    kind = "replace_route"
    route: RouteSpec
    ns: str | None = None

    def apply(self, host: Host) -> Sequence[Step]:
        undo = self.prepare(host)
        host.net.replace_route(self.route, self.ns)
        return undo

    def prepare(self, host: Host) -> Sequence[Step]:
        same = [r for r in host.net.routes(self.ns, table=self.route.table)
                if r.dst == self.route.dst and r.metric == self.route.metric]
        if not same:
            return [DelRoute(self.route, self.ns)]
        old = same[0]
        return [ReplaceRoute(RouteSpec(old.dst, old.gateway, old.dev, old.table, old.metric, old.src,
                                       proto=old.proto), self.ns)]

    def describe(self) -> str:
        return f"replace route {_route_text(self.route)}{where(self.ns)}"

    def commands(self) -> list[str]:
        return [f"{ip_in(self.ns)} route replace {_route_text(self.route, command=True)}"]


def _rule_text(r: RuleSpec) -> str:
    parts = []
    if r.priority:
        parts += ["priority", str(r.priority)]
    for key in ("src", "dst", "iif", "oif"):
        value = getattr(r, key)
        if value:
            parts += [{"src": "from", "dst": "to"}.get(key, key), value]
    if r.fwmark:
        parts += ["fwmark", hex(r.fwmark)]
    parts += ["table", str(r.table)]
    return " ".join(parts)


@register
@dataclass(frozen=True)
class AddRule(Step):
    kind = "add_rule"
    rule: RuleSpec
    ns: str | None = None

    def apply(self, host: Host) -> Sequence[Step]:
        return [DelRule(self.rule, self.ns)] if host.net.add_rule(self.rule, self.ns) else ()

    def prepare(self, host: Host) -> Sequence[Step]:
        return () if has_rule(host, self.rule, self.ns) else [DelRule(self.rule, self.ns)]

    def describe(self) -> str:
        return f"add rule {_rule_text(self.rule)}{where(self.ns)}"

    def commands(self) -> list[str]:
        return [f"{ip_in(self.ns)} rule add {_rule_text(self.rule)}"]


@register
@dataclass(frozen=True)
class DelRule(Step):
    kind = "del_rule"
    rule: RuleSpec
    ns: str | None = None

    def apply(self, host: Host) -> Sequence[Step]:
        removed = host.net.del_rule(self.rule, self.ns)
        return [AddRule(self.rule, self.ns)] if removed else ()

    def prepare(self, host: Host) -> Sequence[Step]:
        return [AddRule(self.rule, self.ns)] if has_rule(host, self.rule, self.ns) else ()

    def describe(self) -> str:
        return f"remove rule {_rule_text(self.rule)}{where(self.ns)}"

    def commands(self) -> list[str]:
        return [f"{ip_in(self.ns)} rule del {_rule_text(self.rule)}"]

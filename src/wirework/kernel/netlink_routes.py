"""Netlink adapter, layer-3 part: addresses, routes and rules, and their requests and dumps."""

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError

from wirework.errors import NotFound
from wirework.kernel.netlink_core import LinkCore
from wirework.model.addr import IPInterface
from wirework.model.host import AddrInfo, RouteInfo, RouteSpec, RuleInfo, RuleSpec

SCOPES = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}
PROTOS = {"unspec": 0, "redirect": 1, "kernel": 2, "boot": 3, "static": 4, "ra": 9, "dhcp": 16}
RTNH_F_ONLINK = 4


def route_request(nl: LinkCore, route: RouteSpec, ns: str | None) -> dict[str, Any]:
    req: dict[str, Any] = {"table": route.table}
    if route.dst == "default":
        req["family"] = _family(route.gateway or route.src or "0.0.0.0")
        req["dst_len"] = 0
    else:
        net = ipaddress.ip_network(route.dst, strict=False)
        req.update(dst=str(net.network_address), dst_len=net.prefixlen, family=_family(str(net.network_address)))
    if route.gateway:
        req["gateway"] = route.gateway
    if route.dev:
        req["oif"] = nl._index(route.dev, ns)
    if route.metric:
        req["priority"] = route.metric
    if route.src:
        req["prefsrc"] = route.src
    if route.scope:
        req["scope"] = SCOPES[route.scope]
    if route.onlink:
        req["flags"] = RTNH_F_ONLINK
    if route.proto:
        req["proto"] = route.proto
    return req


def _family(addr: str) -> int:
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def dump_routes(ipr: Any, table: int | None) -> list[RouteInfo]:
    names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in ipr.get_links()}
    out = []
    for family in (socket.AF_INET, socket.AF_INET6):
        for msg in ipr.get_routes(family=family):
            tbl = msg.get_attr("RTA_TABLE") or msg["table"]
            if table is not None and tbl != table:
                continue
            dst = msg.get_attr("RTA_DST")
            out.append(RouteInfo(
                dst=f"{dst}/{msg['dst_len']}" if dst else "default",
                gateway=msg.get_attr("RTA_GATEWAY") or "",
                dev=names.get(msg.get_attr("RTA_OIF"), ""),
                table=tbl,
                metric=msg.get_attr("RTA_PRIORITY") or 0,
                src=msg.get_attr("RTA_PREFSRC") or "",
                scope=msg["scope"],
                proto=msg["proto"],
                onlink=bool(msg["flags"] & RTNH_F_ONLINK),
            ))
    return out


def rule_request(rule: RuleSpec) -> dict[str, Any]:
    req: dict[str, Any] = {"table": rule.table, "family": socket.AF_INET6 if rule.family == 6 else socket.AF_INET}
    if rule.priority:
        req["priority"] = rule.priority
    for key, attr in (("src", "src"), ("dst", "dst")):
        value = getattr(rule, key)
        if value:
            net = ipaddress.ip_network(value, strict=False)
            req[attr] = str(net.network_address)
            req[f"{attr}_len"] = net.prefixlen
    if rule.iif:
        req["iifname"] = rule.iif
    if rule.oif:
        req["oifname"] = rule.oif
    if rule.fwmark:
        req["fwmark"] = rule.fwmark
    return req


def dump_rules(ipr: Any) -> list[RuleInfo]:
    out = []
    for msg in ipr.get_rules(family=socket.AF_INET):
        src = msg.get_attr("FRA_SRC")
        dst = msg.get_attr("FRA_DST")
        out.append(RuleInfo(
            priority=msg.get_attr("FRA_PRIORITY") or 0,
            table=msg.get_attr("FRA_TABLE") or msg["table"],
            src=f"{src}/{msg['src_len']}" if src else "",
            dst=f"{dst}/{msg['dst_len']}" if dst else "",
            iif=msg.get_attr("FRA_IIFNAME") or "",
            oif=msg.get_attr("FRA_OIFNAME") or "",
            fwmark=msg.get_attr("FRA_FWMARK") or 0,
        ))
    return out


class AddrRouteOps(LinkCore):
    """Netlink adapter, layer-3 part: addresses, routes and policy rules."""

    # -- addresses -----------------------------------------------------------------------
    def addresses(self, ns: str | None = None, ifname: str | None = None, *, v4_only: bool = False) -> list[AddrInfo]:
        ipr = self.sock(ns)
        if ifname is not None:
            info = self.link(ifname, ns)
            if info is None:
                return []
            names = {info.index: ifname}
            query: dict[str, Any] = {"index": info.index}
        else:
            names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in ipr.get_links()}
            query = {}
        if v4_only:
            query["family"] = socket.AF_INET
        out = []
        for msg in ipr.get_addr(**query):
            name = names.get(msg["index"], "")
            if ifname is None or name == ifname:
                out.append(AddrInfo(name, f"{msg.get_attr('IFA_ADDRESS')}/{msg['prefixlen']}"))
        return out

    def add_address(self, name: str, cidr: IPInterface, ns: str | None = None) -> bool:
        def add(index: int) -> None:
            self.sock(ns).addr("add", index=index, address=str(cidr.ip), prefixlen=cidr.network.prefixlen)

        try:
            self._by_index(name, ns, add)
        except NetlinkError as exc:
            if exc.code == errno.EEXIST:
                return False
            raise
        return True

    def del_address(self, name: str, cidr: IPInterface, ns: str | None = None) -> bool:
        info = self.link(name, ns)
        if info is None:
            return False
        try:
            self.sock(ns).addr("del", index=info.index, address=str(cidr.ip), prefixlen=cidr.network.prefixlen)
        except NetlinkError as exc:
            if exc.code in (errno.EADDRNOTAVAIL, errno.ENODEV, errno.ENOENT):
                return False
            raise
        return True

    def is_local_address(self, ip: str, ns: str | None = None) -> bool:
        """Whether `ip` is one of the namespace's own addresses (one route lookup, no dump)."""
        try:
            msg = self.sock(ns).route("get", dst=ip)[0]
        except NetlinkError:
            return False
        return bool(msg["type"] == 2)  # RTN_LOCAL

    # -- routes and rules ----------------------------------------------------------------
    def routes(self, ns: str | None = None, *, table: int | None = None) -> list[RouteInfo]:
        return dump_routes(self.sock(ns), table)

    def add_route(self, route: RouteSpec, ns: str | None = None) -> bool:
        try:
            self._route_by_dev("add", route, ns)
        except NetlinkError as exc:
            if exc.code == errno.EEXIST:
                return False
            raise
        return True

    def replace_route(self, route: RouteSpec, ns: str | None = None) -> None:
        """`ip route replace`: create, or change the route with the same destination/table/metric."""
        self._route_by_dev("replace", route, ns)

    def _route_by_dev(self, verb: str, route: RouteSpec, ns: str | None) -> None:
        try:
            self.sock(ns).route(verb, **route_request(self, route, ns))
        except NetlinkError as exc:
            if exc.code != errno.ENODEV or not route.dev:
                raise
            self._forget_index(route.dev, ns)  # a stale cached index (the link was made again): look it up again
            self.sock(ns).route(verb, **route_request(self, route, ns))

    def del_route(self, route: RouteSpec, ns: str | None = None) -> bool:
        if route.dev:
            # A deletion through a stale cached index (the link was made again since) finds no
            # route and would leave it behind: the kernel does not check the index on delete.
            self._forget_index(route.dev, ns)
        try:
            self.sock(ns).route("del", **route_request(self, route, ns))
        except (NetlinkError, NotFound) as exc:
            if isinstance(exc, NotFound) or exc.code in (errno.ESRCH, errno.ENOENT, errno.ENODEV):
                return False
            raise
        return True

    def rules(self, ns: str | None = None) -> list[RuleInfo]:
        return dump_rules(self.sock(ns))

    def add_rule(self, rule: RuleSpec, ns: str | None = None) -> bool:
        try:
            self.sock(ns).rule("add", **rule_request(rule))
        except NetlinkError as exc:
            if exc.code == errno.EEXIST:
                return False
            raise
        return True

    def del_rule(self, rule: RuleSpec, ns: str | None = None) -> bool:
        try:
            self.sock(ns).rule("del", **rule_request(rule))
        except NetlinkError as exc:
            if exc.code in (errno.ENOENT, errno.ESRCH):
                return False
            raise
        return True



"""Route and rule requests for pyroute2, and their dumps as plain records."""

from __future__ import annotations

import ipaddress
import socket
from typing import TYPE_CHECKING, Any

from wirework.model.host import RouteInfo, RouteSpec, RuleInfo, RuleSpec

if TYPE_CHECKING:
    from wirework.kernel.netlink import Netlink

SCOPES = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}
PROTOS = {"unspec": 0, "redirect": 1, "kernel": 2, "boot": 3, "static": 4, "ra": 9, "dhcp": 16}
RTNH_F_ONLINK = 4


def route_request(nl: Netlink, route: RouteSpec, ns: str | None) -> dict[str, Any]:
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

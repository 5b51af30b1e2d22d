"""pipework's `route`, `rule` and `tc` subcommands as plans inside a guest's namespace.

`ip route` and `ip rule` arguments are parsed into netlink requests (the common grammar:
add/del/replace, prefix or default, via, dev, src, metric, table, scope, onlink; from, to,
iif, oif, fwmark, table/lookup, priority). tc's grammar is too large to re-implement, so tc
runs inside the namespace, with its inverse for the `qdisc add` forms.
"""

from __future__ import annotations

from wirework.drivers.routes import AddRoute, AddRule, DelRoute, DelRule, ReplaceRoute
from wirework.drivers.switch import RunProgram
from wirework.errors import InvalidInput
from wirework.kernel.netlink_routes import PROTOS, SCOPES
from wirework.model.addr import parse_ip, parse_route_dst
from wirework.model.guest import Guest
from wirework.model.host import RouteSpec, RuleSpec
from wirework.plan.steps import Plan, Step

_TABLES = {"main": 254, "local": 255, "default": 253}
_ROUTE_VERBS = {"add": "add", "a": "add", "append": "add", "del": "del", "delete": "del", "d": "del",
                "replace": "replace"}


def plan_guest_command(what: str, guest: Guest, args: list[str]) -> Plan:
    ns = guest.netns_path
    if what == "route":
        steps = _route_steps(args, ns)
    elif what == "rule":
        steps = _rule_steps(args, ns)
    elif what == "tc":
        steps = [_tc_step(args, ns)]
    else:
        raise InvalidInput(what="guest command", value=what, why="use route, rule or tc")
    return Plan(what, f"guest:{guest.key}", tuple(steps))


def _table(value: str) -> int:
    if value in _TABLES:
        return _TABLES[value]
    if value.isdigit() and 0 < int(value) < 2**32:
        return int(value)
    raise InvalidInput(what="routing table", value=value, why="use main, local, default or a number")


def _number(what: str, value: str) -> int:
    try:
        return int(value, 0)
    except ValueError:
        raise InvalidInput(what=what, value=value, why="it must be a number") from None


def parse_route(args: list[str]) -> tuple[str, RouteSpec]:
    if not args or args[0] not in _ROUTE_VERBS:
        raise InvalidInput(what="route command", value=" ".join(args), why="start with add, del or replace")
    verb = _ROUTE_VERBS[args[0]]
    fields: dict[str, object] = {}
    dst = ""
    rest = list(args[1:])
    while rest:
        word = rest.pop(0)
        if word == "onlink":
            fields["onlink"] = True
            continue
        if word in ("via", "dev", "src", "metric", "preference", "table", "scope", "proto", "to"):
            if not rest:
                raise InvalidInput(what="route command", value=" ".join(args), why=f"'{word}' needs a value")
            value = rest.pop(0)
            if word == "to":
                dst = value
            elif word == "via":
                fields["gateway"] = str(parse_ip(value, "gateway"))
            elif word == "src":
                fields["src"] = str(parse_ip(value, "source address"))
            elif word in ("metric", "preference"):
                fields["metric"] = _number("metric", value)
            elif word == "table":
                fields["table"] = _table(value)
            elif word == "scope":
                if value not in SCOPES:
                    raise InvalidInput(what="route scope", value=value, why=f"use one of {', '.join(SCOPES)}")
                fields["scope"] = value
            elif word == "proto":
                fields["proto"] = _proto(value)
            elif word == "dev":
                fields["dev"] = value
            continue
        if dst:
            raise InvalidInput(what="route argument", value=word, why="unknown keyword; see 'ip route help'")
        dst = word
    if not dst:
        raise InvalidInput(what="route command", value=" ".join(args), why="name a destination (prefix or default)")
    net = "default" if dst == "default" else str(parse_route_dst(dst))
    return verb, RouteSpec(dst=net, **fields)  # type: ignore[arg-type]


def _proto(value: str) -> int:
    if value in PROTOS:
        return PROTOS[value]
    if value.isdigit() and int(value) < 256:
        return int(value)
    raise InvalidInput(what="route protocol", value=value, why=f"use a number or one of {', '.join(PROTOS)}")


def _route_steps(args: list[str], ns: str) -> list[Step]:
    verb, route = parse_route(args)
    if verb == "del":
        return [DelRoute(route, ns)]
    if verb == "replace":
        return [ReplaceRoute(route, ns)]
    return [AddRoute(route, ns)]


def parse_rule(args: list[str]) -> tuple[str, RuleSpec]:
    if not args or args[0] not in ("add", "del", "delete"):
        raise InvalidInput(what="rule command", value=" ".join(args), why="start with add or del")
    verb = "add" if args[0] == "add" else "del"
    fields: dict[str, object] = {}
    rest = list(args[1:])
    keys = {"from": "src", "to": "dst", "iif": "iif", "oif": "oif", "fwmark": "fwmark", "table": "table",
            "lookup": "table", "priority": "priority", "pref": "priority", "preference": "priority"}
    while rest:
        word = rest.pop(0)
        if word not in keys or not rest:
            raise InvalidInput(what="rule argument", value=word, why="unknown keyword or missing value; see 'ip rule help'")
        value = rest.pop(0)
        key = keys[word]
        if key in ("src", "dst"):
            fields[key] = "" if value == "all" else str(parse_route_dst(value))
        elif key == "table":
            fields[key] = _table(value)
        elif key in ("fwmark", "priority"):
            fields[key] = _number(word, value)
        else:
            fields[key] = value
    return verb, RuleSpec(**fields)  # type: ignore[arg-type]


def _rule_steps(args: list[str], ns: str) -> list[Step]:
    verb, rule = parse_rule(args)
    return [AddRule(rule, ns) if verb == "add" else DelRule(rule, ns)]


def _tc_step(args: list[str], ns: str) -> Step:
    if not args:
        raise InvalidInput(what="tc command", value="", why="give tc's arguments, e.g. qdisc add dev eth1 root tbf ...")
    undo: tuple[str, ...] = ()
    if len(args) >= 4 and args[0] == "qdisc" and args[1] == "add":
        # "qdisc add dev X root|parent P [handle H] KIND ..." is undone by deleting that qdisc.
        head = []
        for i, word in enumerate(args[2:], start=2):
            if word in ("dev", "parent", "handle") and i + 1 < len(args):
                head += [word, args[i + 1]]
            elif word == "root":
                head.append(word)
        undo = ("tc", "qdisc", "del", *head)
    return RunProgram(ns, ("tc", *args), undo)

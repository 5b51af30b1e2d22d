"""bridges: every bridge of the host (Linux and Open vSwitch), whoever made it."""

from __future__ import annotations

import argparse
from typing import Any

from wirework.cli.app import add_common, add_json, session
from wirework.cli.render import dumps, table


def register(sub: Any) -> None:
    p = sub.add_parser("bridges", help="every bridge of the host (brctl show, and OVS, Docker's, wirework's)")
    add_json(p)
    add_common(p)
    p.set_defaults(func=cmd_bridges)


def cmd_bridges(args: argparse.Namespace) -> int:
    rows = session(args).bridges()
    if args.json:
        print(dumps(rows))
        return 0
    print(table([[r["name"], r["kind"], r["made_by"], ",".join(r["addresses"]) or "-", _ports(r["ports"]),
                  "on" if r["stp"] else "off", "on" if r["vlan_filtering"] else "off", str(r["mtu"] or "-"),
                  r["state"]] for r in rows],
                ["NAME", "KIND", "MADE-BY", "ADDRESSES", "PORTS", "STP", "VLAN-FILTERING", "MTU", "STATE"]))
    return 0


def _ports(ports: list[dict[str, Any]]) -> str:
    return ", ".join(p["name"] + (f" ({p['guest']})" if p["guest"] else "") for p in ports) or "-"

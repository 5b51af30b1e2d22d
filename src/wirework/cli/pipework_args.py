"""pipework's command line, parsed exactly as pipework accepts it.

    pipework <hostif> [-i cif] [-l localif] [-a 4|6] <guest> <ip>/<prefix>[@gateway] [mac][@vlan]
    pipework <hostif> [-i cif] [-l localif] <guest> dhcp [mac][@vlan]
    pipework mac:<host-mac> ...            (host interface chosen by its MAC)
    pipework route|rule|tc <guest> <arguments...>
    pipework --wait [-i cif]
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from wirework.errors import InvalidInput

DHCP_WORDS = {"dhcp": "auto", "udhcpc": "udhcpc", "dhclient": "dhclient", "dhcpcd": "dhcpcd"}
USAGE = (
    "usage: wirework pipework <hostif> [-i cif] [-l localif] [-a 4|6] <guest> <ip>/<prefix>[@gw] [mac][@vlan]\n"
    "       wirework pipework <hostif> [-i cif] <guest> dhcp [mac][@vlan]\n"
    "       wirework pipework route|rule|tc <guest> <args...>\n"
    "       wirework pipework --wait [-i cif]\n"
    "  --once: pipework's one-shot wiring (a Docker container is otherwise wired again when it starts)"
)


@dataclass(frozen=True)
class PipeworkCommand:
    action: str  # "attach", "route", "rule", "tc", "wait"
    guest: str = ""
    attach: dict[str, Any] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    ifname: str = "eth1"


def _bad(why: str) -> InvalidInput:
    first = USAGE.splitlines()[0].removeprefix("usage:").strip()
    return InvalidInput(f"pipework command line: {why}; usage: {first} (see 'wirework pipework --help')")


# wirework's own options may stand anywhere in a pipework line: pipework has none of these.
OWN_FLAGS = {"--dry-run": 0, "--format": 1, "--netns": 1, "--state-dir": 1, "--timeout": 1, "--json": 0,
             "--once": 0}


def split_own_options(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """Take wirework's options out of a pipework argument list."""
    own: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(words):
        flag, eq, value = words[i].partition("=")
        if flag in OWN_FLAGS:
            if OWN_FLAGS[flag] and not eq:
                if i + 1 >= len(words):
                    raise _bad(f"{flag} needs a value")
                value = words[i + 1]
                i += 1
            own[flag] = value if OWN_FLAGS[flag] else "1"
        else:
            rest.append(words[i])
        i += 1
    return own, rest


def parse(argv: list[str]) -> PipeworkCommand:
    if not argv:
        raise _bad("nothing given")
    if argv[0] == "--wait":
        opts, rest = _options(argv[1:])
        if rest:
            raise _bad(f"unexpected {' '.join(rest)!r} after --wait")
        return PipeworkCommand("wait", ifname=opts.get("-i", "eth1"))
    if argv[0] in ("route", "rule", "tc"):
        if len(argv) < 3:
            raise _bad(f"'{argv[0]}' needs a guest and {argv[0]} arguments")
        return PipeworkCommand(argv[0], guest=argv[1], args=tuple(argv[2:]))
    if argv[0] == "--direct-phys":
        cmd = _parse_attach(argv[1:])
        return PipeworkCommand("attach", guest=cmd.guest, attach={**cmd.attach, "direct": True})
    if argv[0].startswith("-"):
        raise _bad(f"unknown option {argv[0]!r}")
    return _parse_attach(argv)


def _options(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """pipework's getopts loop: -i, -l, -a with a value, before the positional words."""
    opts: dict[str, str] = {}
    rest = list(argv)
    while rest and rest[0] in ("-i", "-l", "-a"):
        flag = rest.pop(0)
        if not rest:
            raise _bad(f"{flag} needs a value")
        opts[flag] = rest.pop(0)
    return opts, rest


def _parse_attach(argv: list[str]) -> PipeworkCommand:
    host = argv[0]
    opts, rest = _options(argv[1:])
    if len(rest) < 2:
        raise _bad("give a guest and an address (ip/prefix[@gateway]) or dhcp")
    if len(rest) > 3:
        raise _bad(f"unexpected {' '.join(rest[3:])!r}")
    guest, address = rest[0], rest[1]
    mac, vlan = _mac_vlan(rest[2] if len(rest) == 3 else "")
    attach: dict[str, Any] = {"ifname": opts.get("-i", "eth1"), "host_ifname": opts.get("-l"), "mac": mac, "vlan": vlan}
    family = opts.get("-a")
    if family not in (None, "4", "6"):
        raise _bad(f"-a takes 4 or 6, not {family!r}")
    if host.startswith("mac:"):
        attach["host_mac"] = host[len("mac:"):]
        host = ""
    word, _, options = address.partition(":")
    client = word.removesuffix("-f")  # pipework's -f variants only change how it runs the client
    if client in DHCP_WORDS:
        if client == "dhcpcd":
            raise _bad("dhcpcd is not supported as the DHCP client; use dhcp, udhcpc or dhclient")
        attach.update(dhcp=True, dhcp_client=DHCP_WORDS[client], dhcp_options=tuple(shlex.split(options)))
    else:
        ip, _, gateway = address.partition("@")
        if family and (":" in ip) != (family == "6"):
            raise _bad(f"address {ip!r} is not IPv{family} as -a {family} says")
        attach.update(ip=ip, gateway=gateway or None)
    return PipeworkCommand("attach", guest=guest, attach={"host_if": host, **attach})


def _mac_vlan(text: str) -> tuple[str | None, str | None]:
    if not text:
        return None, None
    mac, _, vlan = text.rpartition("@") if "@" in text else (text, "", "")
    return (mac or None), (vlan or None)

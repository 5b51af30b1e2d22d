"""Connecting guests to networks: validation and the pieces `Wirework.connect` plans with.

A connection is an attachment (`attachments.attach`: a veth from the network's bridge into the
guest, its address, and the default route when asked) plus the firewall's published ports,
run as one plan; the endpoint record (`networks.endpoints`) is written in the transaction
that closes the journal. The default route follows Docker and podman: a guest's first network
gives it (when the guest has no default route yet), a later one only when told
(`default_route=True`, which moves it), and `default_route=False` refuses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wirework.errors import Conflict, InvalidInput
from wirework.firewall.model import PortMapping, bind, parse_publish
from wirework.model.addr import parse_ifname, parse_ip, parse_mac
from wirework.model.guest import Guest
from wirework.model.specs import AttachSpec
from wirework.networks.endpoints import Endpoint
from wirework.networks.network import Network, validate_network_name

_ALIAS_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


@dataclass(frozen=True)
class ConnectSpec:
    network: str
    guest: str
    ip: str | None = None
    aliases: tuple[str, ...] = ()
    default_route: bool | None = None  # None: when the guest has none yet (its first network)
    ports: tuple[PortMapping, ...] = ()  # parsed, not yet bound to the guest's address
    ifname: str | None = None
    no_sysctl: bool = False
    mode: str = ""
    mac: str | None = None  # None: a stable MAC derived from the attachment


def validate_connect(network: str, guest: str, *, ip: str | None = None, aliases: Sequence[str] = (),
                     default_route: bool | None = None, publish: Sequence[str] = (), ifname: str | None = None,
                     no_sysctl: bool = False, mode: str = "", mac: str | None = None) -> ConnectSpec:
    refuse_mode_switch(network, guest)
    validate_network_name(network)
    if not guest:
        raise InvalidInput(what="guest", value=guest, why="name a container, PID or network namespace")
    if ip is not None:
        ip = str(parse_ip(ip.split("/")[0], "address"))
    for alias in aliases:
        if not alias or not set(alias) <= _ALIAS_CHARS:
            raise InvalidInput(what="alias", value=alias, why="use letters, digits, '-', '_' or '.'")
    if ifname is not None:
        parse_ifname(ifname, "guest interface name")
    ports = tuple(m for text in publish for m in parse_publish(text))
    _check_duplicates(ports)
    return ConnectSpec(network, guest, ip, tuple(aliases), default_route, ports, ifname, no_sysctl, mode,
                       parse_mac(mac) if mac else None)


def refuse_mode_switch(network: str, guest: str) -> None:
    """host / container:X / none are namespace choices made when a guest starts, not networks."""
    if network == "host" or network.startswith("container:"):
        raise InvalidInput(what="network", value=network, why=(
            f"a running guest's network namespace cannot be swapped for the "
            f"{'host' if network == 'host' else network.split(':', 1)[1] + chr(39) + 's'} one; "
            f"start it that way instead (docker run --net={network} or wirework run --net {network})"))
    if network == "none":
        raise InvalidInput(what="network", value=network,
                           why=f"'none' is no network; run 'wirework disconnect NETWORK {guest}' for each of its networks")


def _check_duplicates(ports: Sequence[PortMapping]) -> None:
    seen: set[tuple[str | None, str, int]] = set()
    for m in ports:
        key = (m.host_ip, m.proto, m.host_port)
        if key in seen:
            raise InvalidInput(what="published port", value=m.text(), why="it is given twice; publish each host port once")
        seen.add(key)


def check_guest_mode(guest: Guest) -> None:
    if guest.mode == "host":
        raise InvalidInput(what="guest", value=guest.name, why=(
            "it shares the host's network namespace (--net=host), which cannot be switched to a network; "
            "start it with --net=none to connect it"))
    if guest.mode.startswith("container:"):
        raise InvalidInput(what="guest", value=guest.name, why=(
            f"it shares the network namespace of {guest.mode.split(':', 1)[1]} (--net={guest.mode}); "
            f"connect that guest instead"))


def choose_ifname(existing: Sequence[str], taken_by_endpoints: Sequence[str], requested: str | None) -> str:
    """The requested name, or the first free ethN (eth0 for a guest's first network)."""
    if requested is not None:
        return requested
    used = set(existing) | set(taken_by_endpoints)
    n = 0
    while f"eth{n}" in used:
        n += 1
    return f"eth{n}"


def attach_spec(spec: ConnectSpec, net: Network, guest: Guest, ifname: str, ip: str) -> AttachSpec:
    return AttachSpec(guest=guest.ref, host_if=net.bridge, cont_ifname=ifname,
                      cidr=f"{ip}/{net.addresses().prefixlen}",
                      gateway=net.gateway if spec.default_route else None, mtu=net.mtu, create="never", mac=spec.mac)


def bound_ports(spec: ConnectSpec, net: Network, ip: str, owner: str) -> list[PortMapping]:
    if spec.ports and net.internal:
        raise InvalidInput(what="published port", value=spec.ports[0].text(),
                           why=f"network {net.name} is --internal: nothing outside it may reach its guests")
    return bind(list(spec.ports), net.name, ip, owner)


def check_ports(existing: Sequence[Endpoint], new: Sequence[PortMapping], in_use: set[tuple[str, int]]) -> None:
    """A host port is published once; a port a host program listens on is refused too."""
    from wirework.firewall.check import overlaps, port_conflicts

    for ep in existing:
        for old in (PortMapping(**p) for p in ep.ports):
            m = next((m for m in new if overlaps(old, m)), None)
            if m is not None:
                raise Conflict(f"host port {m.text().split('->')[0]} is already published by guest {ep.guest.name} "
                               f"({old.text()} on network {ep.network}); choose another host port, or "
                               f"free it: wirework disconnect {ep.network} {ep.guest.name}")
    port_conflicts([], list(new))  # the same host port twice in one request
    for m in new:
        if (m.proto, m.host_port) in in_use:
            raise Conflict(f"host port {m.host_port}/{m.proto} is in use by a program on the host; "
                           f"stop it or publish another host port")


def same_request(ep: Endpoint, spec: ConnectSpec) -> bool:
    ports = {(p["host_ip"], p["proto"], p["host_port"], p["guest_port"]) for p in ep.ports}
    wanted = {(m.host_ip, m.proto, m.host_port, m.guest_port) for m in spec.ports}
    return (ports == wanted and (spec.ip is None or spec.ip == ep.address)
            and spec.default_route in (None, ep.default_route) and (spec.ifname is None or spec.ifname == ep.ifname))


def wants_default_route(spec: ConnectSpec, has_default: bool, before: Endpoint | None) -> bool:
    """Whether this connection gives the guest its default route: as told; else as it did before
    the guest restarted; else when the guest has none yet (Docker's and podman's rule)."""
    if spec.default_route is not None:
        return spec.default_route
    if before is not None:
        return before.default_route
    return not has_default


def no_way_back_note(guest: Guest, ports: Sequence[PortMapping], reachable: Sequence[str]) -> str | None:
    """What a guest without a default route can answer on its published ports (None: all of
    them are published on 127.0.0.1 only, which the host reaches through the gateway)."""
    public = sorted({(m.proto, m.host_port) for m in ports if not m.host_only}, key=lambda p: (p[1], p[0]))
    if not public:
        return None
    names = ", ".join(f"{port}/{proto}" for proto, port in public[:3]) + \
        (f" and {len(public) - 3} more" if len(public) > 3 else "")
    plural = len(public) > 1
    return (f"{guest.name} has no default route: its published port{'s' if plural else ''} {names} "
            f"answer{'' if plural else 's'} only clients on {', '.join(reachable)} and the host's 127.0.0.1 "
            f"(replies to anyone else have no way back); connect it with --default-route, or add a route back "
            f"to the clients")

"""Docker's requests, validated into plain values before anything is touched (pure, unit-tested).

Network options are `docker network create -o KEY=VALUE` (Docker passes them as
`com.docker.network.generic`) plus the flags Docker passes on its own (`--internal`,
`--ipv6`). Docker's bridge-driver spellings are accepted where they mean the same thing.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from wirework.errors import InvalidInput, Unsupported
from wirework.firewall.model import PortMapping
from wirework.model.addr import parse_ifname, parse_mtu

GENERIC = "com.docker.network.generic"
INTERNAL = "com.docker.network.internal"
ENABLE_IPV6 = "com.docker.network.enable_ipv6"
PORTMAP = "com.docker.network.portmap"
MAC_OPTION = "com.docker.network.endpoint.macaddress"
ADDRESS_TYPE = "RequestAddressType"
GATEWAY_TYPE = "com.docker.network.gateway"
LOCAL_DRIVER = "bridge"
#: Cluster data planes (issue 9): the network is defined in the shared store, built by the agents.
CLUSTER_DRIVERS = ("vxlan", "host-gw", "ovs-vxlan", "ovs-gre")
#: -o options that only cluster networks take (-> the definition's field).
CLUSTER_OPTIONS = {"wirework.host-subnet-len": "host_subnet_len", "wirework.vni": "vni", "wirework.port": "port"}
#: -o options that only bridge networks take (a cluster network's hosts build it their way).
BRIDGE_ONLY = ("wirework.bridge", "wirework.icc", "wirework.masquerade")
_PROTOCOLS = {6: "tcp", 17: "udp", 132: "sctp"}

#: -o options: name -> (what it sets, Docker bridge-driver alias or "").
NETWORK_OPTIONS = {
    "wirework.driver": "data plane: bridge (default; one host) or a cluster driver",
    "wirework.bridge": "Linux bridge name (default ww-<network id>)",
    "wirework.mtu": "MTU of the bridge and guests",
    "wirework.icc": "true/false: guests of the network may talk to each other",
    "wirework.masquerade": "true/false: NAT traffic leaving the host",
    "wirework.host-subnet-len": "cluster networks: prefix length of each host's share (default 24)",
    "wirework.vni": "cluster networks: VXLAN network identifier / tunnel key (default: the lowest free)",
    "wirework.port": "cluster networks: VXLAN UDP port (default 4789)",
    "com.docker.network.bridge.name": "= wirework.bridge",
    "com.docker.network.driver.mtu": "= wirework.mtu",
    "com.docker.network.bridge.enable_icc": "= wirework.icc",
    "com.docker.network.bridge.enable_ip_masquerade": "= wirework.masquerade",
}
_ALIASES = {"com.docker.network.bridge.name": "wirework.bridge", "com.docker.network.driver.mtu": "wirework.mtu",
            "com.docker.network.bridge.enable_icc": "wirework.icc",
            "com.docker.network.bridge.enable_ip_masquerade": "wirework.masquerade"}
IPAM_OPTIONS = {"wirework.force": "true: keep a --subnet that overlaps a route or another program's network"}


@dataclass(frozen=True)
class NetworkOptions:
    driver: str = LOCAL_DRIVER
    bridge: str | None = None
    mtu: int | None = None
    icc: bool = True
    masquerade: bool = True
    internal: bool = False
    cluster: tuple[tuple[str, str], ...] = ()  # cluster-only options given: (definition field, value)

    @property
    def is_cluster(self) -> bool:
        return self.driver in CLUSTER_DRIVERS


def _bool(name: str, value: Any) -> bool:
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise InvalidInput(what=f"option {name}", value=str(value), why="use true or false")


def unknown(kind: str, name: str, known: dict[str, str]) -> InvalidInput:
    return InvalidInput(what=f"{kind} option", value=name, why="wirework does not know it; known: " + ", ".join(known))


def parse_network_options(options: dict[str, Any]) -> NetworkOptions:
    """CreateNetwork's Options: the generic (-o) map and the flags Docker adds."""
    if options.get(ENABLE_IPV6) in (True, "true"):
        raise Unsupported(feature="IPv6", why="wirework networks are IPv4 only for now; drop --ipv6")
    generic = options.get(GENERIC) or {}
    if not isinstance(generic, dict):
        raise InvalidInput(what="network options", value=str(generic), why="expected KEY=VALUE pairs")
    values: dict[str, Any] = {}
    for name, value in generic.items():
        if name not in NETWORK_OPTIONS:
            raise unknown("network", name, NETWORK_OPTIONS)
        values[_ALIASES.get(str(name), str(name))] = value
    driver = str(values.get("wirework.driver", LOCAL_DRIVER)).strip()
    if driver != LOCAL_DRIVER and driver not in CLUSTER_DRIVERS:
        raise InvalidInput(what="option wirework.driver", value=driver,
                           why=f"use {LOCAL_DRIVER} or one of {', '.join(CLUSTER_DRIVERS)}")
    _check_kind(driver, values, options.get(INTERNAL) in (True, "true"))
    bridge = values.get("wirework.bridge")
    if bridge is not None:
        parse_ifname(str(bridge), "bridge name")
    return NetworkOptions(
        driver=driver, bridge=str(bridge) if bridge is not None else None,
        mtu=parse_mtu(str(values["wirework.mtu"])) if "wirework.mtu" in values else None,
        icc=_bool("wirework.icc", values.get("wirework.icc", True)),
        masquerade=_bool("wirework.masquerade", values.get("wirework.masquerade", True)),
        internal=options.get(INTERNAL) in (True, "true"),
        cluster=tuple((CLUSTER_OPTIONS[k], str(values[k]).strip()) for k in CLUSTER_OPTIONS if k in values))


def _check_kind(driver: str, values: dict[str, Any], internal: bool) -> None:
    """Refuse options the kind of network has no use for (one line naming the option)."""
    if driver in CLUSTER_DRIVERS:
        for name in BRIDGE_ONLY:
            if name in values:
                raise InvalidInput(what=f"option {name}", value=str(values[name]), why=(
                    f"a cluster network ({driver}) is built by each host's agent with its own bridge, "
                    "guests talking to each other and NAT to the outside; leave it out"))
        if internal:
            raise Unsupported(feature="--internal on a cluster network", why="its hosts route between each other; "
                              "leave --internal out, or make a bridge network (no wirework.driver)")
        return
    for name in CLUSTER_OPTIONS:
        if name in values:
            raise InvalidInput(what=f"option {name}", value=str(values[name]), why=(
                f"it applies to cluster networks only; add -o wirework.driver=vxlan (or {', '.join(CLUSTER_DRIVERS[1:])})"))


def parse_ipam_options(options: dict[str, Any] | None) -> bool:
    """RequestPool's Options (`--ipam-opt`): whether wirework.force was given."""
    force = False
    for name, value in (options or {}).items():
        if name not in IPAM_OPTIONS:
            raise unknown("IPAM", name, IPAM_OPTIONS)
        force = _bool(name, value)
    return force


def parse_pool(pool: str, sub_pool: str) -> tuple[str | None, str | None]:
    """RequestPool's Pool and SubPool (--subnet, --ip-range), checked; None when not given."""
    if not pool:
        if sub_pool:
            raise InvalidInput(what="IP range", value=sub_pool, why="it needs a --subnet to live in; add --subnet")
        return None, None
    try:
        net = ipaddress.ip_network(pool, strict=True)
    except ValueError as exc:
        raise InvalidInput(what="subnet", value=pool, why=f"{exc}; write it as NETWORK/PREFIX") from None
    if net.version != 4 or net.prefixlen > 30:
        raise InvalidInput(what="subnet", value=pool, why="use an IPv4 subnet of /30 or larger, e.g. 10.10.0.0/24")
    if not sub_pool:
        return str(net), None
    try:
        rng = ipaddress.ip_network(sub_pool, strict=True)
    except ValueError as exc:
        raise InvalidInput(what="IP range", value=sub_pool, why=f"{exc}; write it as NETWORK/PREFIX") from None
    if rng.version != 4 or not rng.subnet_of(net):
        raise InvalidInput(what="IP range", value=sub_pool, why=f"it is not inside the subnet {net}")
    return str(net), str(rng)


def ip_of(cidr: str, what: str = "address") -> str:
    """`10.1.0.5/24` (or a bare address) -> `10.1.0.5`."""
    try:
        return str(ipaddress.ip_interface(cidr.strip()).ip)
    except ValueError:
        raise InvalidInput(what=what, value=cidr, why="it is not an IP address") from None


def port_bindings(options: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The `-p` bindings Docker passes (`com.docker.network.portmap`), checked, as plain dicts:
    proto, guest_port, host_ip (None: every address), host_port, host_port_end (0 0: any port)."""
    out = []
    for b in (options or {}).get(PORTMAP) or []:
        if not isinstance(b, dict):
            raise InvalidInput(what="port binding", value=str(b), why="Docker sent something unexpected")
        proto = _PROTOCOLS.get(int(b.get("Proto", 6)), "?")
        if proto not in ("tcp", "udp"):
            raise Unsupported(feature=f"publishing {proto} ports", why="wirework publishes tcp and udp ports only")
        host_ip = str(b.get("HostIP") or "") or None
        if host_ip in ("0.0.0.0",):
            host_ip = None
        if host_ip is not None and ":" in host_ip:
            raise Unsupported(feature="IPv6 host addresses for published ports", why=f"use an IPv4 one, not {host_ip}")
        first, last = int(b.get("HostPort") or 0), int(b.get("HostPortEnd") or 0)
        out.append({"proto": proto, "guest_port": int(b["Port"]), "host_ip": host_ip,
                    "host_port": first, "host_port_end": max(first, last)})
    return out


def mapping(binding: dict[str, Any], host_port: int, network: str, guest_ip: str, owner: str) -> PortMapping:
    return PortMapping(network, guest_ip, binding["proto"], host_port, binding["guest_port"], binding["host_ip"], owner)

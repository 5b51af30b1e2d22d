"""Docker-style networks: the validated spec, its store record, and links between networks.

A network is a Linux bridge (named `ww-<name>`, tagged `wirework:net:<name>`) with the
gateway address, a subnet handed out by `wirework.ipam`, and firewall rules (NAT, isolation)
from `wirework.firewall`. Its definition lives in the store under `net/<host>/<name>`, so
`wirework up` can rebuild everything after a reboot or a firewall flush; links between
networks (`wirework network link A B`) live under `netlink/<host>/<a>/<b>` with a < b.
"""

from __future__ import annotations

import ipaddress
import re
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from wirework.errors import InvalidInput, NotFound, did_you_mean
from wirework.ipam.ranges import AddressRange
from wirework.model.addr import parse_ifname, parse_mtu, parse_network
from wirework.naming import BRIDGE_PREFIX, short_hash
from wirework.networks.subnets.pools import gateway_for, ip_range_for
from wirework.store.base import Delete, Put, Store

DEFAULT_NETWORK = "wirework0"
NET_PREFIX = "net/"
LINK_PREFIX = "netlink/"
RESERVED = {"host": "shares the host's network namespace", "none": "means no network (only lo)",
            "bridge": "is the name of the default network's mode (wirework0)", "default": "is reserved"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class NetworkSpec:
    name: str
    bridge: str
    subnet: str | None  # None: choose one from the pools
    gateway: str | None = None
    ip_range: str | None = None
    internal: bool = False
    masquerade: bool = True
    icc: bool = True
    mtu: int | None = None


@dataclass(frozen=True)
class Network:
    """A network as recorded: the spec with the subnet and gateway settled."""

    name: str
    host: str
    bridge: str
    subnet: str
    gateway: str
    ip_range: str | None = None
    internal: bool = False
    masquerade: bool = True
    icc: bool = True
    mtu: int | None = None
    created: float = field(default_factory=time.time)
    #: A cluster network materialised on this host by its agent (`wirework.cluster`): the
    #: driver, and the whole network's subnet (`subnet` above is this host's share of it).
    driver: str = ""
    cluster_cidr: str = ""
    made_by: str = "wirework"  # or "docker": `docker network create -d wirework` (the plugin)
    docker_id: str = ""  # Docker's network id, for networks Docker made
    docker_name: str = ""  # Docker's name for it, once learned (Docker's events or a resync)

    @property
    def display_name(self) -> str:
        """The name users know it by: Docker's for the networks Docker made."""
        return self.docker_name or self.name

    @property
    def owner(self) -> str:
        return f"net:{self.name}"

    @property
    def nat(self) -> bool:
        """Whether guests reach beyond the host through this network (forwarding needed)."""
        return not self.internal

    @property
    def gateway_cidr(self) -> str:
        return f"{self.gateway}/{ipaddress.ip_network(self.subnet).prefixlen}"

    def addresses(self) -> AddressRange:
        return AddressRange(self.name, self.subnet, self.gateway, self.ip_range)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Network:
        return cls(**data)


def bridge_name(network: str) -> str:
    """`ww-<name>` when it fits in 15 characters, else a shortened name plus a hash.

    A dot in the network name takes the hashed form too: `IF.N` reads as a VLAN interface.
    """
    name = f"{BRIDGE_PREFIX}-{network}"
    if len(name) <= 15 and all(c.isalnum() or c in "-_" for c in network):
        return name
    return f"{BRIDGE_PREFIX}-{re.sub(r'[^A-Za-z0-9]', '', network)[:6]}-{short_hash(network, length=5)}"


def validate_network_name(name: str) -> str:
    if name in RESERVED:
        raise InvalidInput(what="network name", value=name, why=f"it {RESERVED[name]}; choose another name")
    if name.startswith("container:") or not _NAME_RE.match(name):
        raise InvalidInput(what="network name", value=name,
                           why="use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit")
    return name


def validate_network(name: str, *, subnet: str | None = None, gateway: str | None = None,
                     ip_range: str | None = None, bridge: str | None = None, internal: bool = False,
                     masquerade: bool = True, icc: bool = True, mtu: int | str | None = None) -> NetworkSpec:
    validate_network_name(name)
    if subnet is not None:
        net = parse_network(subnet)
        if net.version != 4 or net.prefixlen > 30:
            raise InvalidInput(what="subnet", value=subnet, why="use an IPv4 subnet of /30 or larger, e.g. 10.10.0.0/24")
        gateway_for(net, gateway)
        ip_range_for(net, ip_range)
    elif gateway is not None or ip_range is not None:
        raise InvalidInput(what="gateway" if gateway else "IP range", value=gateway or ip_range or "",
                           why="it needs an explicit --subnet to live in; add --subnet")
    if bridge is not None:
        parse_ifname(bridge, "bridge name")
    return NetworkSpec(name=name, bridge=bridge or bridge_name(name), subnet=subnet, gateway=gateway,
                       ip_range=ip_range, internal=internal, masquerade=masquerade, icc=icc,
                       mtu=parse_mtu(mtu) if mtu is not None else None)


def settle(spec: NetworkSpec, host: str, subnet: str) -> Network:
    """The record for a spec once its subnet is chosen."""
    net = ipaddress.ip_network(subnet)
    return Network(name=spec.name, host=host, bridge=spec.bridge, subnet=str(net),
                   gateway=gateway_for(net, spec.gateway), ip_range=ip_range_for(net, spec.ip_range),
                   internal=spec.internal, masquerade=spec.masquerade, icc=spec.icc, mtu=spec.mtu)


def same_definition(a: Network, b: Network) -> bool:
    return replace(a, created=0.0, docker_name="") == replace(b, created=0.0, docker_name="")


# -- records ------------------------------------------------------------------------------
def net_key(host: str, name: str) -> str:
    return f"{NET_PREFIX}{host}/{name}"


def load(store: Store, host: str, name: str) -> Network | None:
    entry = store.get(net_key(host, name))
    return Network.from_dict(entry.value) if entry else None


def require(store: Store, host: str, name: str) -> Network:
    """The network by its wirework name, or by the name Docker knows it by."""
    net = load(store, host, name) or next((n for n in all_networks(store, host) if n.docker_name == name), None)
    if net is None:
        raise missing(store, host, name)
    return net


def missing(store: Store, host: str, name: str) -> NotFound:
    """The error for a network that does not exist: a near name, or what a reserved name means."""
    if name == "bridge":
        return NotFound(f"no network is named 'bridge': it is the mode of the default network {DEFAULT_NETWORK} "
                        f"(as in Docker; it is created by the first 'wirework run' or 'wirework connect "
                        f"{DEFAULT_NETWORK} GUEST'); use '{DEFAULT_NETWORK}'")
    if name in RESERVED:
        return NotFound(f"no network is named {name!r}: it {RESERVED[name]}; list networks with 'wirework network ls'")
    hint = did_you_mean(name, [n.name for n in all_networks(store, host)])
    fix = hint.lstrip("; ") if hint else (f"create it with 'wirework network create {name}' "
                                          "or list networks with 'wirework network ls'")
    return NotFound(what="network", name=name, fix=fix)


def all_networks(store: Store, host: str) -> list[Network]:
    return [Network.from_dict(e.value) for e in store.scan(f"{NET_PREFIX}{host}/")]


def put_op(net: Network) -> Put:
    return Put(net_key(net.host, net.name), net.to_dict())


def delete_op(net: Network) -> Delete:
    return Delete(net_key(net.host, net.name))


def link_key(host: str, a: str, b: str) -> str:
    first, second = sorted((a, b))
    return f"{LINK_PREFIX}{host}/{first}/{second}"


def all_links(store: Store, host: str) -> list[tuple[str, str]]:
    out = []
    for entry in store.scan(f"{LINK_PREFIX}{host}/"):
        a, b = entry.key.rsplit("/", 2)[1:]
        out.append((a, b))
    return out

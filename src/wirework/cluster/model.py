"""Cluster networks as data: the definition every host agrees on, and a host's subnet record.

`validate_cluster_network` refuses a bad definition before anything is written: an unknown
driver (the error lists the known ones), a subnet that is not IPv4, a host subnet length that
does not fit the network, a VNI or key out of range, options a driver has no use for.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from wirework.errors import InvalidInput
from wirework.model.addr import parse_mtu, parse_network
from wirework.networks.network import validate_network_name

#: driver -> VNI/key family (networks of one family may not share a number), or "" (none).
DRIVERS = {"vxlan": "vxlan", "host-gw": "", "ovs-vxlan": "vxlan", "ovs-gre": "gre"}
MAX_VNI = 2**24 - 1
MAX_GRE_KEY = 2**32 - 1
VXLAN_PORT = 4789
#: The smallest host subnet that holds the network address (the VXLAN VTEP address), the
#: gateway and at least one guest.
LONGEST_HOST_SUBNET = 30
ACTIVE, DRAINING = "active", "draining"


@dataclass(frozen=True)
class ClusterNetwork:
    name: str
    driver: str
    subnet: str
    host_subnet_len: int = 24
    vni: int | None = None  # VXLAN network identifier / OVS tunnel key; None: none (ovs-gre)
    mtu: int | None = None  # None: each host's underlay MTU minus the driver's overhead
    port: int = VXLAN_PORT
    state: str = ACTIVE
    created: float = field(default_factory=time.time)

    @property
    def family(self) -> str:
        """Which numbers this network's VNI competes with ("" when it has none)."""
        return DRIVERS[self.driver] if self.vni is not None else ""

    @property
    def uses_ovs(self) -> bool:
        return self.driver.startswith("ovs-")

    def definition(self) -> dict[str, Any]:
        """What two `network create` calls must agree on (not when, not the state)."""
        data = asdict(self)
        del data["created"], data["state"]
        return data

    def host_subnets(self) -> Iterator[ipaddress.IPv4Network]:
        return ipaddress.IPv4Network(self.subnet).subnets(new_prefix=self.host_subnet_len)

    @property
    def capacity(self) -> int:
        return int(2 ** (self.host_subnet_len - ipaddress.IPv4Network(self.subnet).prefixlen))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterNetwork:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})

    def draining(self) -> ClusterNetwork:
        return replace(self, state=DRAINING)


def validate_cluster_network(name: str, *, driver: str, subnet: str | None, host_subnet_len: int | str = 24,
                             vni: int | str | None = None, mtu: int | str | None = None,
                             port: int | str | None = None) -> ClusterNetwork:
    validate_network_name(name)
    if driver not in DRIVERS:
        raise InvalidInput(what="driver", value=driver, why=f"cluster networks use one of {', '.join(DRIVERS)}")
    if subnet is None:
        raise InvalidInput(what="subnet", value="", why="a cluster network needs --subnet, e.g. 10.244.0.0/16")
    net = parse_network(subnet)
    if net.version != 4:
        raise InvalidInput(what="subnet", value=subnet, why="cluster networks are IPv4 for now")
    length = _int(host_subnet_len, "host subnet length")
    _check_length(net, length)
    number = _check_vni(driver, None if vni is None else _int(vni, "VNI"))
    if port is not None and driver != "vxlan":
        raise InvalidInput(what="VXLAN port", value=str(port), why=f"only the vxlan driver takes --port, not {driver}")
    udp = VXLAN_PORT if port is None else _int(port, "VXLAN port")
    if not 1 <= udp <= 65535:
        raise InvalidInput(what="VXLAN port", value=str(udp), why="a UDP port is 1 to 65535")
    return ClusterNetwork(name, driver, str(net), length, number, parse_mtu(mtu) if mtu is not None else None, udp)


def _int(value: int | str, what: str) -> int:
    try:
        return int(str(value).lstrip("/"))
    except ValueError:
        raise InvalidInput(what=what, value=str(value), why="it is not a number") from None


def _check_length(net: ipaddress.IPv4Network | ipaddress.IPv6Network, length: int) -> None:
    if length <= net.prefixlen or length > LONGEST_HOST_SUBNET:
        room = "one host at most" if length == net.prefixlen else "no host" if length < net.prefixlen else ""
        why = (f"a host subnet /{length} does not fit network {net}: it must be longer than /{net.prefixlen} "
               f"and at most /{LONGEST_HOST_SUBNET}" + (f" (it leaves room for {room})" if room else "")
               + f"; e.g. --host-subnet-len {min(max(net.prefixlen + 8, 24), LONGEST_HOST_SUBNET)}")
        raise InvalidInput(what="host subnet length", value=f"/{length}", why=why)


def _check_vni(driver: str, vni: int | None) -> int | None:
    if driver == "host-gw":
        if vni is not None:
            raise InvalidInput(what="VNI", value=str(vni), why="host-gw routes plain packets; it has no VNI")
        return None
    if driver == "ovs-gre":
        if vni is not None and not 0 <= vni <= MAX_GRE_KEY:
            raise InvalidInput(what="GRE key", value=str(vni), why=f"a GRE key is 0 to {MAX_GRE_KEY}")
        return vni
    if vni is not None and not 1 <= vni <= MAX_VNI:
        raise InvalidInput(what="VNI", value=str(vni), why=f"a VXLAN network identifier is 1 to {MAX_VNI}")
    return vni


@dataclass(frozen=True)
class HostSubnet:
    """One host's share of a cluster network, as recorded (bound to the host's lease)."""

    network: str
    subnet: str
    host: str  # the cluster-wide host id
    public_ip: str
    vtep_mac: str = ""  # the VXLAN device's MAC (vxlan driver)
    lease: int = 0
    since: float = field(default_factory=time.time)
    status: str = "ok"

    @property
    def gateway(self) -> str:
        return str(ipaddress.IPv4Network(self.subnet).network_address + 1)

    @property
    def vtep_ip(self) -> str:
        """The subnet's own network address: the VXLAN device's address (flannel's choice)."""
        return str(ipaddress.IPv4Network(self.subnet).network_address)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HostSubnet:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class HostRecord:
    """Who runs the agent of a host id (bound to its lease): refuses a second agent by that id."""

    host: str
    public_ip: str
    lease: int
    hostname: str = ""
    started: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HostRecord:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})

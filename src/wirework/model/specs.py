"""Typed, validated specs of what the user asked for; built before anything is touched."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from wirework.errors import InvalidInput
from wirework.model.addr import check_gateway, parse_cidr, parse_ifname, parse_ip, parse_mac, parse_mtu, parse_vlan

CREATE_MODES = ("auto", "linux", "ovs", "never")
DHCP_CLIENTS = ("auto", "udhcpc", "dhclient")


@dataclass(frozen=True)
class AttachSpec:
    """Wire one interface of a guest to a host interface (bridge, OVS bridge or NIC)."""

    guest: str
    host_if: str = ""
    host_mac: str | None = None  # pipework's mac:<host-mac>: pick the host interface by MAC
    cont_ifname: str = "eth1"
    host_ifname: str | None = None  # pipework -l: the host end's name
    cidr: str | None = None
    gateway: str | None = None
    mac: str | None = None
    vlan: int | None = None
    mtu: int | None = None
    dhcp: bool = False
    dhcp_client: str = "auto"
    create: str = "auto"  # how to create a missing host interface: auto = pipework's br*/ovs* rule
    dhcp_options: tuple[str, ...] = ()
    direct: bool = False  # pipework --direct-phys: move the NIC itself into the guest
    #: pipework's one-shot behaviour: forget the attachment when the container stops, instead of
    #: wiring it again when the container starts (the default for Docker containers).
    once: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def same_wiring(self, other: AttachSpec) -> bool:
        """Whether two specs ask for the same result (what makes a repeated attach a no-op)."""
        keys = ("host_if", "cont_ifname", "cidr", "gateway", "mac", "vlan", "mtu", "dhcp", "direct")
        return all(getattr(self, k) == getattr(other, k) for k in keys)


def validate_attach(
    guest: str,
    host_if: str = "",
    *,
    ip: str | None = None,
    gateway: str | None = None,
    ifname: str = "eth1",
    host_ifname: str | None = None,
    mac: str | None = None,
    vlan: int | str | None = None,
    mtu: int | str | None = None,
    dhcp: bool = False,
    dhcp_client: str = "auto",
    host_mac: str | None = None,
    create: str = "auto",
    dhcp_options: tuple[str, ...] | list[str] = (),
    direct: bool = False,
    once: bool = False,
) -> AttachSpec:
    if not guest:
        raise InvalidInput(what="guest", value=guest, why="name a container, PID or network namespace")
    if host_mac is not None:
        host_mac = parse_mac(host_mac)
    elif not host_if:
        raise InvalidInput(what="host interface", value=host_if, why="name a bridge, an OVS bridge or a NIC")
    else:
        parse_ifname(host_if, "host interface")
    parse_ifname(ifname, "guest interface name")
    if host_ifname is not None:
        parse_ifname(host_ifname, "host-side interface name")
    if ip is not None and dhcp:
        raise InvalidInput(what="address", value=ip, why="give either an address or dhcp, not both")
    if ip is None and not dhcp:
        raise InvalidInput(what="address", value="", why="give ADDRESS/PREFIX (e.g. 10.0.0.2/24) or dhcp")
    cidr = parse_cidr(ip) if ip is not None else None
    gw = None
    if gateway:
        gw_ip = parse_ip(gateway, "gateway")
        if cidr is not None:
            check_gateway(gw_ip, cidr)
        gw = str(gw_ip)
    if create not in CREATE_MODES:
        raise InvalidInput(what="create mode", value=create, why=f"use one of {', '.join(CREATE_MODES)}")
    if dhcp_client not in DHCP_CLIENTS:
        raise InvalidInput(what="DHCP client", value=dhcp_client, why=f"use one of {', '.join(DHCP_CLIENTS)}")
    return AttachSpec(
        guest=guest,
        host_if=host_if,
        host_mac=host_mac,
        cont_ifname=ifname,
        host_ifname=host_ifname,
        cidr=str(cidr) if cidr is not None else None,
        gateway=gw,
        mac=parse_mac(mac) if mac else None,
        vlan=parse_vlan(vlan) if vlan is not None else None,
        mtu=parse_mtu(mtu) if mtu is not None else None,
        dhcp=dhcp,
        dhcp_client=dhcp_client,
        create=create,
        dhcp_options=tuple(dhcp_options),
        direct=direct,
        once=once,
    )

"""What planned steps may ask of a host: small protocols the adapters implement.

Steps only talk to these protocols, so the same steps run against the real kernel
(`wirework.kernel.host.KernelHost`) and against the fake in `wirework.testing`.
`ns` arguments name a guest's network namespace by path; None means the host's own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from wirework.model.addr import IPInterface


@dataclass(frozen=True)
class LinkInfo:
    index: int
    name: str
    kind: str  # "bridge", "veth", "macvlan", "openvswitch", "tun", "" (physical) ...
    mtu: int
    mac: str
    up: bool
    alias: str = ""
    master: int = 0
    vlan_filtering: bool = False
    link_index: int = 0  # the veth peer or macvlan parent index


@dataclass(frozen=True)
class AddrInfo:
    ifname: str
    cidr: str


@dataclass(frozen=True)
class RouteInfo:
    dst: str  # "default" or prefix
    gateway: str = ""
    dev: str = ""
    table: int = 254
    metric: int = 0
    src: str = ""
    scope: int = 0
    proto: int = 0
    onlink: bool = False


@dataclass(frozen=True)
class RuleInfo:
    priority: int
    table: int
    src: str = ""
    dst: str = ""
    iif: str = ""
    oif: str = ""
    fwmark: int = 0


@dataclass(frozen=True)
class VxlanInfo:
    """What the kernel reports of a Linux VXLAN device (`ip -d link show`)."""

    vni: int
    local: str
    port: int
    learning: bool
    underlay: int = 0  # index of the underlay device (`dev`), 0 when unset


@dataclass(frozen=True)
class FdbEntry:
    """One static forwarding entry of a VXLAN device: frames for `mac` go to `dst` (underlay IP).

    The all-zero MAC is the default destination: head-end replication of broadcast, unknown
    unicast and multicast frames to every peer listed, instead of a multicast group.
    """

    mac: str
    dst: str


@dataclass(frozen=True)
class NeighInfo:
    ip: str
    mac: str
    dev: str


@dataclass(frozen=True)
class RouteSpec:
    """One route as `ip route` would take it; dst "default" or a prefix."""

    dst: str
    gateway: str = ""
    dev: str = ""
    table: int = 254
    metric: int = 0
    src: str = ""
    onlink: bool = False
    scope: str = ""  # "", "link", "host", "global"
    proto: int = 0  # 0: the kernel's default for `ip route add` (boot); kept when a route moves


@dataclass(frozen=True)
class RuleSpec:
    priority: int = 0
    table: int = 254
    src: str = ""
    dst: str = ""
    iif: str = ""
    oif: str = ""
    fwmark: int = 0
    family: int = 4
    extra: dict[str, str] = field(default_factory=dict)


class NetlinkOps(Protocol):
    def link(self, name: str, ns: str | None = None) -> LinkInfo | None: ...
    def link_by_index(self, index: int, ns: str | None = None) -> LinkInfo | None: ...
    def links(self, ns: str | None = None) -> list[LinkInfo]: ...
    def create_veth(
        self, host_name: str, peer_name: str, peer_ns: str | None, *, mtu: int | None, peer_mac: str | None,
        master: str | None = None, up: bool = False,
    ) -> None: ...
    def create_bridge(self, name: str, *, mtu: int | None, vlan_filtering: bool) -> None: ...
    def create_macvlan(
        self, parent: str, name: str, ns: str | None, *, mode: str, mac: str | None, mtu: int | None
    ) -> None: ...
    def create_vlan(self, parent: str, name: str, vid: int) -> None: ...
    def delete_link(self, name: str, ns: str | None = None, *, owner: str | None = None) -> bool: ...
    def set_alias(self, name: str, alias: str, ns: str | None = None, *, up: bool = False) -> None: ...
    def move_link(self, name: str, ns: str | None, to_ns: str | None, new_name: str) -> None: ...
    def set_master(self, name: str, master: str | None, ns: str | None = None) -> None: ...
    def set_up(self, name: str, ns: str | None = None, up: bool = True) -> None: ...
    def set_mtu(self, name: str, mtu: int, ns: str | None = None) -> None: ...
    def addresses(self, ns: str | None = None, ifname: str | None = None, *, v4_only: bool = False) -> list[AddrInfo]: ...
    def add_address(self, name: str, cidr: IPInterface, ns: str | None = None) -> bool: ...
    def is_local_address(self, ip: str, ns: str | None = None) -> bool: ...
    def del_address(self, name: str, cidr: IPInterface, ns: str | None = None) -> bool: ...
    def routes(self, ns: str | None = None, *, table: int | None = None) -> list[RouteInfo]: ...
    def add_route(self, route: RouteSpec, ns: str | None = None) -> bool: ...
    def replace_route(self, route: RouteSpec, ns: str | None = None) -> None: ...
    def del_route(self, route: RouteSpec, ns: str | None = None) -> bool: ...
    def rules(self, ns: str | None = None) -> list[RuleInfo]: ...
    def add_rule(self, rule: RuleSpec, ns: str | None = None) -> bool: ...
    def del_rule(self, rule: RuleSpec, ns: str | None = None) -> bool: ...
    def bridge_vlan(self, port: str, vid: int, *, add: bool) -> None: ...
    def set_tx_offload(self, name: str, ns: str | None, on: bool) -> None: ...
    def create_vxlan(
        self, name: str, *, vni: int, local: str, port: int, learning: bool, underlay: str | None, mtu: int | None,
        mac: str | None = None,
    ) -> None: ...
    def vxlan(self, name: str) -> VxlanInfo | None: ...
    def fdb(self, dev: str) -> list[FdbEntry]: ...
    def fdb_append(self, dev: str, mac: str, dst: str) -> bool: ...
    def fdb_del(self, dev: str, mac: str, dst: str) -> bool: ...
    def neighbours(self, dev: str) -> list[NeighInfo]: ...
    def neigh_add(self, dev: str, ip: str, mac: str) -> bool: ...
    def neigh_del(self, dev: str, ip: str) -> bool: ...


class OvsOps(Protocol):
    def available(self) -> bool: ...
    def bridge_exists(self, name: str) -> bool: ...
    def bridge_datapath(self, name: str) -> str: ...
    def add_bridge(self, name: str, *, datapath: str, owner: str) -> None: ...
    def del_bridge(self, name: str, *, owner: str | None = None) -> bool: ...
    def add_port(self, bridge: str, port: str, *, tag: int | None, owner: str, extra: dict[str, str] | None = None,
                 port_extra: dict[str, str] | None = None) -> None: ...
    def del_port(self, bridge: str, port: str, *, owner: str | None = None) -> bool: ...
    def ports(self, bridge: str) -> list[str]: ...
    def port_owner(self, port: str) -> str | None: ...
    def bridge_owner(self, name: str) -> str | None: ...
    def owned_ports(self) -> list[tuple[str, str, str]]: ...
    def kernel_datapath_available(self) -> bool: ...
    def interface_error(self, port: str) -> str | None: ...


class FirewallOps(Protocol):
    def forward_blocked(self) -> bool: ...
    def has_bridge_forward(self, bridge: str, owner: str) -> bool: ...
    def bridges_with_forward(self) -> list[str]: ...
    def ensure_bridge_forward(self, bridge: str, owner: str) -> bool: ...
    def remove_bridge_forward(self, bridge: str, owner: str) -> bool: ...
    def ensure_bridge_accept(self, bridge: str, owner: str) -> bool: ...
    def remove_bridge_accept(self, bridge: str, owner: str) -> bool: ...


class NftOps(Protocol):
    """nftables of the host's netns, through the JSON interface (`kernel.nft.Nft`).

    `run` applies a batch atomically (all or nothing) and returns what nft printed (for list
    commands); "not found" raises `errors.NotFound`, "exists" raises `errors.Conflict`.
    """

    def run(self, commands: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]: ...
    def get_element(self, family: str, table: str, name: str, key: str) -> tuple[str, str] | None: ...


class ProcessOps(Protocol):
    def run_in(self, ns: str | None, argv: list[str], *, timeout: float = 30.0, input_text: str | None = None) -> str: ...
    def which(self, program: str) -> str | None: ...


class SysctlOps(Protocol):
    def get(self, key: str, ns: str | None = None) -> str | None: ...
    def set(self, key: str, value: str, ns: str | None = None) -> None: ...


class Host(Protocol):
    """The kernel adapters bound to one network namespace (None: the real host's)."""

    netns: str | None
    netns_path: str | None  # /run/netns/NAME of `netns`, None for the real host

    @property
    def net(self) -> NetlinkOps: ...
    @property
    def ovs(self) -> OvsOps: ...
    @property
    def fw(self) -> FirewallOps: ...
    @property
    def proc(self) -> ProcessOps: ...
    @property
    def sysctl(self) -> SysctlOps: ...
    @property
    def nft(self) -> NftOps: ...

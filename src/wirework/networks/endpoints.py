"""Endpoints: a guest's membership of a network, as recorded in the store.

`ep/<host>/<network>/<hash of the guest key>` holds which interface of which guest sits on
the network, its address, whether it gives the guest's default route, its aliases and
published ports, and the attachment (`att/...`) whose undo steps remove the veth.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from wirework.model.guest import Guest
from wirework.naming import short_hash
from wirework.store.base import Delete, Put, Store

PREFIX = "ep/"


@dataclass(frozen=True)
class Endpoint:
    network: str
    host: str
    guest: Guest
    att_id: str
    ifname: str
    ip: str  # ADDRESS/PREFIX
    default_route: bool = False
    static: bool = False
    aliases: tuple[str, ...] = ()
    ports: tuple[dict[str, Any], ...] = ()  # published ports (firewall PortMapping fields)
    mode: str = ""  # how the guest joined: bridge, the network's name, or the guest's own mode
    created: float = field(default_factory=time.time)
    made_by: str = "wirework"  # or "docker": an endpoint Docker made through the plugin
    lease_owner: str = ""  # who holds the IPAM lease, when not the guest (Docker: the MAC)
    mac: str = ""

    @property
    def owner_of_lease(self) -> str:
        return self.lease_owner or self.guest.key

    @property
    def key(self) -> str:
        return ep_key(self.host, self.network, self.guest.key)

    @property
    def address(self) -> str:
        return self.ip.split("/")[0]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["aliases"] = list(self.aliases)
        data["ports"] = list(self.ports)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Endpoint:
        data = dict(data)
        data["guest"] = Guest.from_dict(data["guest"])
        data["aliases"] = tuple(data.get("aliases", ()))
        data["ports"] = tuple(data.get("ports", ()))
        return cls(**data)


def ep_key(host: str, network: str, guest_key: str) -> str:
    return f"{PREFIX}{host}/{network}/{short_hash(guest_key, length=16)}"


def load(store: Store, host: str, network: str, guest_key: str) -> Endpoint | None:
    entry = store.get(ep_key(host, network, guest_key))
    return Endpoint.from_dict(entry.value) if entry else None


def on_network(store: Store, host: str, network: str) -> list[Endpoint]:
    return [Endpoint.from_dict(e.value) for e in store.scan(f"{PREFIX}{host}/{network}/")]


def all_endpoints(store: Store, host: str) -> list[Endpoint]:
    return [Endpoint.from_dict(e.value) for e in store.scan(f"{PREFIX}{host}/")]


def of_guest(store: Store, host: str, guest_key: str) -> list[Endpoint]:
    # Filtered before building objects: every connect asks, and a host may hold many endpoints.
    return [Endpoint.from_dict(e.value) for e in store.scan(f"{PREFIX}{host}/") if e.value["guest"]["key"] == guest_key]


def put_op(ep: Endpoint) -> Put:
    return Put(ep.key, ep.to_dict())


def delete_op(ep: Endpoint) -> Delete:
    return Delete(ep.key)


#: Leases held for Docker (the plugin's IPAM driver: containers' by MAC, `--aux-address`es):
#: Docker says when they go, and the plugin's resync removes what Docker forgot.
DOCKER_LEASE_PREFIX = "docker-"


def lease_holders(store: Store, host: str, network: str) -> set[str]:
    """Owners whose leases on `network` are in use: connected guests, and Docker's."""
    return {ep.owner_of_lease for ep in on_network(store, host, network)}


def held(owner: str, holders: set[str]) -> bool:
    return owner in holders or owner.startswith(DOCKER_LEASE_PREFIX)

"""What address ranges the host already uses, read without changing anything.

Sources: routes of every routing table and addresses of every interface of the host
namespace, other wirework networks in the store, Docker networks (Engine API), libvirt and
CNI network definitions (their config directories, when present) and DNS servers
(/etc/resolv.conf). Each range comes with the reason `subnets.pick_subnet` reports.
"""

from __future__ import annotations

import ipaddress
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

from wirework.errors import WireworkError
from wirework.guests.docker import DockerClient
from wirework.model.host import Host
from wirework.networks.network import all_networks
from wirework.networks.subnets.pools import Occupied
from wirework.networks.subnets.reservations import all_reservations
from wirework.store.base import Store

LIBVIRT_DIRS = ("etc/libvirt/qemu/networks", "run/libvirt/network")
CNI_DIRS = ("etc/cni/net.d",)
RESOLV_CONF = "etc/resolv.conf"
_TABLE_NAMES = {254: "main", 255: "local", 253: "default"}


def probe_occupied(host: Host, store: Store, host_id: str, docker: DockerClient | None, *,
                   root: str = "/", exclude_bridge: str | None = None, exclude_net: str | None = None) -> list[Occupied]:
    """Every range in use, except what belongs to `exclude_bridge`/`exclude_net` (re-checks)."""
    out = list(_kernel(host, exclude_bridge))
    ours = all_networks(store, host_id)
    out += [Occupied(n.subnet, f"wirework network {n.display_name} ({n.subnet})") for n in ours if n.name != exclude_net]
    # "wirework network ..." reasons are hard conflicts (see pools.check_subnet): so are these.
    out += [Occupied(r.subnet, f"wirework network pool {r.subnet} reserved by {r.holder}")
            for r in all_reservations(store, host_id) if r.network != exclude_net]
    if docker is not None:  # the Docker networks that are wirework's (made by the plugin) are listed above
        out += _docker(docker, {n.docker_id for n in ours if n.docker_id})
    out += _libvirt(root) + _cni(root) + _dns(root)
    return out


def _kernel(host: Host, exclude_bridge: str | None) -> Iterator[Occupied]:
    for r in host.net.routes(table=None):
        if r.dst == "default" or ":" in r.dst or (exclude_bridge and r.dev == exclude_bridge):
            continue
        if r.table == 255 and r.dst.endswith("/32"):
            continue  # the local table's per-address entries; the addresses are listed below
        table = _TABLE_NAMES.get(r.table, str(r.table))
        via = f" via {r.gateway}" if r.gateway else ""
        dev = f" dev {r.dev}" if r.dev else ""
        yield Occupied(r.dst, f"route {r.dst}{via}{dev} (table {table})")
    for a in host.net.addresses():
        if ":" in a.cidr or (exclude_bridge and a.ifname == exclude_bridge):
            continue
        yield Occupied(str(ipaddress.ip_interface(a.cidr).network), f"address {a.cidr} on {a.ifname}")


def _docker(docker: DockerClient, ours: set[str]) -> list[Occupied]:
    if not docker.available():
        return []
    try:
        status, data = docker.request("GET", "/networks")
    except WireworkError:
        return []  # Docker not answering: its networks show up as routes anyway when in use
    if status != 200 or not isinstance(data, list):
        return []
    out = []
    for net in data:
        if net.get("Id") in ours:
            continue
        for cfg in ((net.get("IPAM") or {}).get("Config") or []):
            subnet = cfg.get("Subnet")
            if subnet and ":" not in subnet:
                out.append(Occupied(subnet, f"Docker network {net.get('Name')} ({subnet})"))
    return out


def _files(root: str, dirs: tuple[str, ...], suffixes: tuple[str, ...]) -> Iterator[str]:
    for d in dirs:
        path = os.path.join(root, d)
        if not os.path.isdir(path):
            continue
        for name in sorted(os.listdir(path)):
            if name.endswith(suffixes):
                yield os.path.join(path, name)


def _libvirt(root: str) -> list[Occupied]:
    out = []
    for path in _files(root, LIBVIRT_DIRS, (".xml",)):
        try:
            tree = ET.parse(path)
        except (ET.ParseError, OSError):
            continue
        name = tree.findtext("name") or os.path.basename(path)
        for ip in tree.iter("ip"):
            subnet = _libvirt_subnet(ip.attrib)
            if subnet:
                out.append(Occupied(subnet, f"libvirt network {name} ({subnet}, {path})"))
    return out


def _libvirt_subnet(attrib: dict[str, str]) -> str | None:
    addr = attrib.get("address")
    mask = attrib.get("prefix") or attrib.get("netmask")
    if not addr or not mask or ":" in addr:
        return None
    try:
        return str(ipaddress.ip_interface(f"{addr}/{mask}").network)
    except ValueError:
        return None


def _cni(root: str) -> list[Occupied]:
    out = []
    for path in _files(root, CNI_DIRS, (".conf", ".conflist", ".json")):
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        name = data.get("name", os.path.basename(path)) if isinstance(data, dict) else path
        for subnet in _subnets_in(data):
            out.append(Occupied(subnet, f"CNI network {name} ({subnet}, {path})"))
    return out


def _subnets_in(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "subnet" and isinstance(value, str) and ":" not in value:
                try:
                    yield str(ipaddress.ip_network(value, strict=False))
                except ValueError:
                    pass
            else:
                yield from _subnets_in(value)
    elif isinstance(data, list):
        for item in data:
            yield from _subnets_in(item)


def _dns(root: str) -> list[Occupied]:
    path = os.path.join(root, RESOLV_CONF)
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver" and ":" not in parts[1]:
            try:
                ipaddress.ip_address(parts[1])
            except ValueError:
                continue
            out.append(Occupied(f"{parts[1]}/32", f"DNS server {parts[1]} ({path})"))
    return out

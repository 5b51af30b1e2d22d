"""Results and errors as the CNI spec writes them (section 5), for each supported version.

An ADD result lists the bridge, the host end of the veth and the container interface (the
reference bridge plugin's order), the address with the index of the container interface,
the default route when one was made, and DNS from the configuration. A `prevResult` (this
plugin later in a chain) is kept and extended, never replaced.
"""

from __future__ import annotations

import copy
import ipaddress
import json
from typing import Any

from wirework.cni import versions
from wirework.errors import CNI_MESSAGES, WireworkError


def to_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1) + "\n"


def error(version: str, exc: WireworkError) -> dict[str, Any]:
    code = int(getattr(exc, "delegated_code", 0) or exc.cni_code)  # a delegated plugin's own code
    return {"cniVersion": version, "code": code, "msg": CNI_MESSAGES.get(code, CNI_MESSAGES[999]), "details": str(exc)}


def version_result(version: str) -> dict[str, Any]:
    return {"cniVersion": version, "supportedVersions": list(versions.SUPPORTED)}


def add_result(version: str, att: Any, prev: dict[str, Any] | None, dns: dict[str, Any] | None) -> dict[str, Any]:
    """`att` is a `networks.cniops.CniAttachment`."""
    out = _normalised(prev or {}, version)
    interfaces: list[dict[str, Any]] = out.setdefault("interfaces", [])
    first = len(interfaces)
    for link in (att.bridge, att.host, att.container):
        entry: dict[str, Any] = {"name": link.name, "mac": link.mac}
        if link.mtu and versions.at_least(version, "1.1.0"):
            entry["mtu"] = link.mtu
        if link.sandbox:
            entry["sandbox"] = link.sandbox
        interfaces.append(entry)
    ip: dict[str, Any] = {"address": att.address, "gateway": att.network.gateway, "interface": first + 2}
    if not versions.modern(version):
        ip = {"version": "4", **ip}
    out.setdefault("ips", []).append(ip)
    if att.default_route:
        out.setdefault("routes", []).append({"dst": "0.0.0.0/0", "gw": att.network.gateway})
    if dns:
        out["dns"] = dns
    return {"cniVersion": version, **{k: v for k, v in out.items() if k != "cniVersion"}}


def _normalised(result: dict[str, Any], version: str) -> dict[str, Any]:
    """A prevResult in this version's shape: IPs with `version` before 1.0.0, without after."""
    out = copy.deepcopy(result)
    for ip in out.get("ips", []):
        if versions.modern(version):
            ip.pop("version", None)
        elif "version" not in ip:
            ip["version"] = str(ipaddress.ip_interface(ip["address"]).version)
    return out


def _mine(prev: dict[str, Any], ifname: str, netns: str) -> list[int]:
    interfaces = prev.get("interfaces") or []
    return [i for i, intf in enumerate(interfaces)
            if isinstance(intf, dict) and intf.get("name") == ifname and intf.get("sandbox") == netns]


def ips_for(prev: dict[str, Any] | None, ifname: str, netns: str) -> list[str]:
    """The addresses a prevResult lists for the container interface `ifname` in `netns`."""
    if not prev:
        return []
    mine = set(_mine(prev, ifname, netns))
    return [ip["address"] for ip in prev.get("ips") or [] if isinstance(ip, dict) and ip.get("interface") in mine]


def mac_for(prev: dict[str, Any] | None, ifname: str, netns: str) -> str | None:
    """The MAC a prevResult gives the container interface (a later plugin may have changed it)."""
    if not prev:
        return None
    mine = _mine(prev, ifname, netns)
    mac = prev["interfaces"][mine[-1]].get("mac") if mine else None
    return str(mac) if mac else None


def delegated_address(result: dict[str, Any]) -> tuple[str, str | None, bool, list[str]]:
    """From an IPAM plugin's result: (first IPv4 ADDRESS/PREFIX, its gateway, whether a default
    route was asked for, the other routes)."""
    for ip in result.get("ips") or []:
        address = str(ip.get("address", ""))
        try:
            parsed = ipaddress.ip_interface(address)
        except ValueError:
            continue
        if parsed.version == 4:
            routes = [str(r.get("dst", "")) for r in result.get("routes") or [] if isinstance(r, dict)]
            default = "0.0.0.0/0" in routes
            return address, ip.get("gateway"), default, [r for r in routes if r not in ("0.0.0.0/0", "::/0")]
    return "", None, False, []

"""The plugin configuration on stdin, validated into a `NetConf` before anything is touched.

    {"cniVersion": "1.0.0", "name": "web", "type": "wirework",
     "network": "web", "driver": "bridge", "subnet": "10.89.0.0/24", "gateway": "10.89.0.1",
     "ipRange": "10.89.0.128/25", "bridge": "ww-web", "mtu": 1500, "ipMasq": true,
     "internal": false, "icc": true, "defaultRoute": true,
     "capabilities": {"portMappings": true, "ips": true, "mac": true},
     "ipam": {"type": "host-local", ...}, "dns": {...}}

`network` names the wirework network (default: the configuration's `name`); the options
after it define that network and are compared with a stored one. `driver` picks the network
type from `DRIVERS` (the cluster drivers of the etcd control plane join it there). An unknown
key is refused (code 2) with the nearest known one, so a typo is never silently ignored.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wirework.cni import versions
from wirework.errors import DecodingFailure, InvalidConfig, UnsupportedField

#: Network drivers a configuration may name, with what each needs (a registry by name).
DRIVERS = {"bridge": "a wirework bridge network on this host: NAT, published ports, isolation"}
#: Configuration key -> the option of `networks.network.validate_network` it sets.
NETWORK_KEYS = {"subnet": "subnet", "gateway": "gateway", "ipRange": "ip_range", "bridge": "bridge",
                "internal": "internal", "ipMasq": "masquerade", "icc": "icc", "mtu": "mtu"}
_TYPES: dict[str, type | tuple[type, ...]] = {
    "subnet": str, "gateway": str, "ipRange": str, "bridge": str, "internal": bool, "ipMasq": bool,
    "icc": bool, "mtu": int, "network": str, "driver": str, "defaultRoute": bool, "type": str,
    "ipam": dict, "dns": dict, "runtimeConfig": dict, "args": dict, "prevResult": dict, "capabilities": dict,
}
_PROTOCOL_KEYS = ("cniVersion", "cniVersions", "name", "type", "capabilities", "runtimeConfig", "args", "prevResult",
                  "ipam", "dns", "disableCheck", "disableGC", "loadOnlyInlinedPlugins")
KNOWN_KEYS = (*_PROTOCOL_KEYS, "network", "driver", "defaultRoute", *NETWORK_KEYS)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class PortMap:
    host_port: int
    container_port: int
    protocol: str = "tcp"
    host_ip: str = ""

    def publish_text(self) -> str:
        """Docker's `-p` notation, which `networks.connect.validate_connect` parses."""
        where = f"{self.host_ip}:" if self.host_ip and self.host_ip != "0.0.0.0" else ""
        return f"{where}{self.host_port}:{self.container_port}/{self.protocol}"


@dataclass(frozen=True)
class NetConf:
    version: str
    name: str
    network: str
    driver: str = "bridge"
    options: dict[str, Any] = field(default_factory=dict)  # validate_network options the config gives
    default_route: bool | None = None  # None: when the container has none yet (its first network)
    ipam: dict[str, Any] | None = None
    dns: dict[str, Any] | None = None
    ports: tuple[PortMap, ...] = ()
    ips: tuple[str, ...] = ()  # runtimeConfig.ips, else args.cni.ips
    mac: str | None = None
    prev_result: dict[str, Any] | None = None
    valid_attachments: tuple[tuple[str, str], ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)


def decode(stdin: str) -> dict[str, Any]:
    try:
        data = json.loads(stdin)
    except ValueError as exc:
        raise DecodingFailure(what="the network configuration on stdin", why=f"it is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise DecodingFailure(what="the network configuration on stdin", why="it is not a JSON object")
    return data


def parse_config(data: dict[str, Any], command: str) -> NetConf:
    version = versions.require(data.get("cniVersion"), command)
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidConfig(what="network name", value=str(name or ""),
                            why="give 'name': letters, digits, '_', '.' or '-', starting with a letter or digit")
    _check_keys(data)
    driver = data.get("driver", "bridge")
    if driver not in DRIVERS:
        raise UnsupportedField(field="driver", value=driver, why=f"known drivers: {', '.join(DRIVERS)}")
    runtime = data.get("runtimeConfig") or {}
    return NetConf(
        version=version, name=name, network=data.get("network", name), driver=driver,
        options={NETWORK_KEYS[k]: v for k, v in data.items() if k in NETWORK_KEYS},
        default_route=data.get("defaultRoute"), ipam=_ipam(data.get("ipam")), dns=data.get("dns"),
        ports=tuple(_port(p) for p in _list(runtime, "portMappings")),
        ips=_ips(runtime, data.get("args")), mac=_mac(runtime), prev_result=data.get("prevResult"),
        valid_attachments=_valid(data.get("cni.dev/valid-attachments")), raw=data)


def _check_keys(data: Mapping[str, Any]) -> None:
    for key, value in data.items():
        if key.startswith("cni.dev/"):
            continue
        if key not in KNOWN_KEYS:
            near = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise UnsupportedField(field=key, value=value, why=f"{hint}the wirework plugin knows {', '.join(KNOWN_KEYS)}")
        wanted = _TYPES.get(key)
        if wanted is not None and (not isinstance(value, wanted) or (wanted is int and isinstance(value, bool))):
            kind = wanted.__name__ if isinstance(wanted, type) else "value"
            raise InvalidConfig(what=key, value=json.dumps(value), why=f"it must be a JSON {_json_kind(kind)}")


def _json_kind(python: str) -> str:
    return {"str": "string", "bool": "boolean (true or false)", "int": "integer", "dict": "object"}.get(python, python)


def _ipam(value: Any) -> dict[str, Any] | None:
    if not value:
        return None
    kind = value.get("type")
    if not isinstance(kind, str) or not kind or "/" in kind:
        raise InvalidConfig(what="ipam type", value=str(kind or ""), why="name the IPAM plugin program (e.g. host-local)")
    return dict(value)


def _list(runtime: Mapping[str, Any], key: str) -> list[Any]:
    value = runtime.get(key) or []
    if not isinstance(value, list):
        raise InvalidConfig(what=f"runtimeConfig.{key}", value=json.dumps(value), why="it must be a JSON list")
    return value


def _port(entry: Any) -> PortMap:
    if not isinstance(entry, dict):
        raise InvalidConfig(what="runtimeConfig.portMappings entry", value=json.dumps(entry), why="it must be an object")
    host, cont = entry.get("hostPort"), entry.get("containerPort")
    if not isinstance(host, int) or not isinstance(cont, int):
        raise InvalidConfig(what="runtimeConfig.portMappings entry", value=json.dumps(entry),
                            why="hostPort and containerPort must be integers")
    proto = str(entry.get("protocol") or "tcp").lower()
    host_ip = str(entry.get("hostIP") or "")
    if ":" in host_ip:
        raise UnsupportedField(field="portMappings hostIP", value=host_ip, why="wirework publishes ports on IPv4 only")
    return PortMap(host, cont, proto, host_ip)


def _ips(runtime: Mapping[str, Any], args: Any) -> tuple[str, ...]:
    ips = _list(runtime, "ips")
    if not ips and isinstance(args, dict) and isinstance(args.get("cni"), dict):
        ips = _list(args["cni"], "ips")
    if not all(isinstance(ip, str) for ip in ips):
        raise InvalidConfig(what="ips", value=json.dumps(ips), why="each must be a string like 10.1.0.5 or 10.1.0.5/24")
    return tuple(ips)


def _mac(runtime: Mapping[str, Any]) -> str | None:
    mac = runtime.get("mac")
    if mac is not None and not isinstance(mac, str):
        raise InvalidConfig(what="runtimeConfig.mac", value=json.dumps(mac), why="it must be a string")
    return mac or None


def _valid(value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InvalidConfig(what="cni.dev/valid-attachments", value=json.dumps(value), why="it must be a list of objects")
    out = []
    for item in value:
        cid, ifname = item.get("containerID"), item.get("ifname")
        if not isinstance(cid, str) or not isinstance(ifname, str) or not cid or not ifname:
            raise InvalidConfig(what="cni.dev/valid-attachments entry", value=json.dumps(item),
                                why="each needs containerID and ifname strings")
        out.append((cid, ifname))
    return tuple(out)

"""One CNI invocation as a pure function: (environment, stdin) -> (exit status, stdout).

Nothing here reads `os.environ`, the working directory or `sys.stdout`, so the same call
serves a plugin process (`wirework cni plugin`, what the launcher in CNI_PATH runs) and a
request forwarded to the resident service. Every error becomes the spec's error JSON on
stdout with a non-zero exit; input is validated completely before the session is opened.

`WIREWORK_NETNS` (a named namespace) makes that namespace the host, as `--netns` does on
the command line; `WIREWORK_STATE_DIR` picks the state store, `WIREWORK_STORE` the shared one.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from wirework.cni import result, versions
from wirework.cni.config import NetConf, decode, parse_config
from wirework.cni.env import CniEnv, parse_env
from wirework.errors import (
    InvalidConfig,
    InvalidEnvironment,
    NotFound,
    StepFailed,
    UnsupportedField,
    WireworkError,
)

#: (host netns name or None, state dir or None) -> a `wirework.api.Wirework` session.
SessionFactory = Callable[[str | None, str | None], Any]
Log = Callable[[str], None]


class DelegateFailed(WireworkError):
    """The delegated (IPAM) plugin failed; its own code is passed on."""

    def __init__(self, plugin: str, code: int, text: str) -> None:
        super().__init__(f"IPAM plugin {plugin} failed: {text}")
        self.delegated_code = code


def handle(env: Mapping[str, str], stdin: str, sessions: SessionFactory | None = None,
           log: Log | None = None) -> tuple[int, str]:
    version = versions.LATEST
    try:
        cenv = parse_env(env)
        if cenv.command == "VERSION":
            return 0, result.to_json(result.version_result(_input_version(stdin)))
        data = decode(stdin)
        if data.get("cniVersion") in versions.SUPPORTED:
            version = str(data["cniVersion"])
        conf = parse_config(data, cenv.command)
        _check_namespaces(cenv, env)
        with _session(env, sessions) as ww:
            return 0, _COMMANDS[cenv.command](ww, cenv, conf, env, stdin, log or (lambda _line: None))
    except WireworkError as exc:
        return 1, result.to_json(result.error(version, exc))
    except Exception as exc:  # a defect: still the spec's shape, so the runtime can show it
        return 1, result.to_json(result.error(version, StepFailed(f"internal error: {type(exc).__name__}: {exc}")))


def _input_version(stdin: str) -> str:
    try:
        value = json.loads(stdin).get("cniVersion") if stdin.strip() else None
    except (ValueError, AttributeError):
        value = None
    return value if isinstance(value, str) and value else versions.LATEST


@contextlib.contextmanager
def _session(env: Mapping[str, str], factory: SessionFactory | None) -> Iterator[Any]:
    netns, state_dir = env.get("WIREWORK_NETNS") or None, env.get("WIREWORK_STATE_DIR") or None
    if factory is not None:
        yield factory(netns, state_dir)
        return
    from wirework.api import Wirework

    ww = Wirework(netns, state_dir=state_dir, store=env.get("WIREWORK_STORE") or None)
    try:
        yield ww
    finally:
        ww.close()


def _identity(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


def _check_namespaces(cenv: CniEnv, env: Mapping[str, str]) -> None:
    """CNI_NETNS is a network namespace other than the host's; the host is the one meant."""
    host = env.get("WIREWORK_NETNS")
    client = env.get("WIREWORK_CLIENT_NETNS")
    if not host and client and client != "{}:{}".format(*_identity("/proc/self/ns/net")):
        raise InvalidEnvironment(variable="WIREWORK_NETNS", value="", why=(
            "the plugin runs in another network namespace than the wirework service; name that namespace "
            "in WIREWORK_NETNS, or set WIREWORK_NO_SERVICE=1"))
    if cenv.command not in ("ADD", "CHECK"):
        return
    if not os.path.exists(cenv.netns):
        raise NotFound(what="container network namespace (CNI_NETNS)", name=cenv.netns)
    host_path = ("/run/netns/" + host if host and "/" not in host else host) or "/proc/self/ns/net"
    netns_dev = _identity("/proc/self/ns/net")[0]
    if _identity(cenv.netns)[0] != netns_dev:
        raise InvalidEnvironment(variable="CNI_NETNS", value=cenv.netns,
                                 why="it is not a network namespace file (like /run/netns/NAME or /proc/PID/ns/net)")
    if os.path.exists(host_path) and _identity(cenv.netns) == _identity(host_path):
        raise InvalidEnvironment(variable="CNI_NETNS", value=cenv.netns,
                                 why="it is the host's own network namespace; give the container's")


# -- the commands ---------------------------------------------------------------------------
def _add(ww: Any, cenv: CniEnv, conf: NetConf, env: Mapping[str, str], stdin: str, log: Log) -> str:
    options, ip, default_route, dns = dict(conf.options), _requested_ip(conf, cenv), conf.default_route, conf.dns
    if conf.ipam is not None:
        delegated = _delegate(ww, conf, "ADD", env, stdin)
        ip, gateway, ipam_default, others = result.delegated_address(delegated)
        if default_route is None and not ipam_default:
            default_route = False  # the IPAM plugin's routes decide, unless the configuration does
        if not ip:
            _undo_ipam(ww, conf, env, stdin)
            raise InvalidConfig(what="ipam result", value=json.dumps(delegated), why="it holds no IPv4 address")
        if others:
            _undo_ipam(ww, conf, env, stdin)
            raise UnsupportedField(field="ipam routes", value=", ".join(others),
                                   why="wirework installs the default route only (0.0.0.0/0)")
        options.setdefault("subnet", str(ipaddress.ip_interface(ip).network))
        if gateway:
            options.setdefault("gateway", gateway)
        dns = dns or delegated.get("dns")
    try:
        att = ww.cni.add(conf.network, options, cenv.container_id, cenv.ifname, cenv.netns, ip=ip,
                         mac=conf.mac or cenv.args.get("MAC") or None,
                         publish=tuple(p.publish_text() for p in conf.ports), default_route=default_route)
    except BaseException:
        _undo_ipam(ww, conf, env, stdin)
        raise
    return result.to_json(result.add_result(conf.version, att, conf.prev_result, dns))


def _requested_ip(conf: NetConf, cenv: CniEnv) -> str | None:
    """runtimeConfig.ips, else args.cni.ips, else CNI_ARGS IP= (the conventions' order)."""
    ips = list(conf.ips) or ([cenv.args["IP"]] if cenv.args.get("IP") else [])
    if conf.ipam is not None or not ips:
        return None  # a delegated IPAM plugin reads them itself
    for ip in ips:
        if ":" in ip:
            raise UnsupportedField(field="ips", value=ip, why="wirework networks give IPv4 addresses only")
    if len(ips) > 1:
        raise UnsupportedField(field="ips", value=", ".join(ips), why="wirework gives one IPv4 address per attachment")
    return ips[0]


def _delete(ww: Any, cenv: CniEnv, conf: NetConf, env: Mapping[str, str], stdin: str, log: Log) -> str:
    for line in ww.cni.delete(conf.network, cenv.container_id, cenv.ifname):
        log(f"wirework: DEL left: {line}")
    if conf.ipam is not None:
        _delegate(ww, conf, "DEL", env, stdin)
    return ""


def _check(ww: Any, cenv: CniEnv, conf: NetConf, env: Mapping[str, str], stdin: str, log: Log) -> str:
    if conf.prev_result is None:
        raise InvalidConfig(what="prevResult", value="", why="CHECK needs the result of ADD in prevResult")
    expected = result.ips_for(conf.prev_result, cenv.ifname, cenv.netns)
    mac = result.mac_for(conf.prev_result, cenv.ifname, cenv.netns)
    ww.cni.check(conf.network, cenv.container_id, cenv.ifname, cenv.netns, expected, mac)
    if conf.ipam is not None:
        _delegate(ww, conf, "CHECK", env, stdin)
    return ""


def _gc(ww: Any, cenv: CniEnv, conf: NetConf, env: Mapping[str, str], stdin: str, log: Log) -> str:
    removed, errors = ww.cni.gc(conf.network, conf.valid_attachments)
    for line in removed:
        log(f"wirework: GC removed {line} from network {conf.network}")
    if conf.ipam is not None:
        try:
            _delegate(ww, conf, "GC", env, stdin)
        except DelegateFailed as exc:
            errors.append(str(exc))
    if errors:
        raise StepFailed("GC could not remove everything: " + "; ".join(errors))
    return ""


def _status(ww: Any, cenv: CniEnv, conf: NetConf, env: Mapping[str, str], stdin: str, log: Log) -> str:
    ww.cni.status(conf.network)
    if conf.ipam is not None:
        _delegate(ww, conf, "STATUS", env, stdin)
    return ""


_COMMANDS: dict[str, Callable[[Any, CniEnv, NetConf, Mapping[str, str], str, Log], str]] = {
    "ADD": _add, "DEL": _delete, "CHECK": _check, "GC": _gc, "STATUS": _status,
}


# -- the delegated IPAM plugin (CNI spec, section 4) ----------------------------------------
def _delegate(ww: Any, conf: NetConf, command: str, env: Mapping[str, str], stdin: str) -> dict[str, Any]:
    assert conf.ipam is not None
    plugin = str(conf.ipam["type"])
    run = ww.cni.delegate(plugin, command, env, stdin)
    try:
        out = json.loads(run.stdout) if run.stdout.strip() else {}
    except ValueError:
        out = {}
    if run.code != 0:
        code = int(out.get("code") or 999) if isinstance(out, dict) else 999
        text = ": ".join(str(out[k]) for k in ("msg", "details") if isinstance(out, dict) and out.get(k))
        raise DelegateFailed(plugin, code, text or run.stderr.strip() or f"exit status {run.code}")
    return out if isinstance(out, dict) else {}


def _undo_ipam(ww: Any, conf: NetConf, env: Mapping[str, str], stdin: str) -> None:
    """A failed ADD releases what the IPAM plugin gave (the spec: run it again with DEL)."""
    if conf.ipam is None:
        return
    with contextlib.suppress(WireworkError):
        _delegate(ww, conf, "DEL", env, stdin)


"""Turn what the user typed into a Guest: Docker container, PID, named netns or netns path.

Explicit prefixes (`docker:`, `pid:`, `netns:`, `path:`, `cni:`) pick the kind; otherwise the
kinds are tried in the order pipework users expect and the error lists every one that was tried.

A CNI attachment is `cni:CONTAINERID/IFNAME:NETNS_PATH`: CNI names an attachment by the
runtime's container id and interface name, and the key keeps only those two, so DEL and GC
find the attachment after the runtime removed the namespace. Without the path (`cni:ID/IF`)
it names an attachment whose namespace is unknown here: not found, as a gone guest is.
"""

from __future__ import annotations

import os
from typing import Any

from wirework.errors import GuestNotFound, GuestNotRunning, InvalidInput
from wirework.guests.docker import DockerClient
from wirework.kernel.netns import NETNS_RUN_DIR, netns_id
from wirework.kernel.proc import process_start
from wirework.model.guest import Guest, cni_key

_KINDS = ("docker", "pid", "netns", "path", "cni")


def resolve(ref: str, docker: DockerClient | None = None) -> Guest:
    kind, _, rest = ref.partition(":")
    if rest and kind in _KINDS:
        return _resolve_kind(kind, rest, ref, docker)
    if ref.startswith("/"):
        return _resolve_kind("path", ref, ref, docker)
    tried = []
    # pipework asks Docker first: a container whose name or id prefix is all digits must not
    # turn into a host process of that PID.
    docker = docker or DockerClient()
    if docker.available():
        tried.append("Docker container")
        guest = _from_docker(ref, ref, docker)
        if guest is not None:
            return guest
    else:
        tried.append(f"Docker (no socket at {docker.path})")
    tried.append(f"{NETNS_RUN_DIR}/{ref}")
    if "/" not in ref and os.path.exists(os.path.join(NETNS_RUN_DIR, ref)):
        return _from_netns(ref, ref)
    if ref.isdigit():
        tried.append(f"PID {ref}")
        if os.path.exists(f"/proc/{ref}/ns/net"):
            return _from_pid(int(ref), ref)
    raise GuestNotFound(name=ref, tried=", ".join(tried))


def _resolve_kind(kind: str, value: str, ref: str, docker: DockerClient | None) -> Guest:
    if kind == "pid":
        if not value.isdigit() or not os.path.exists(f"/proc/{value}/ns/net"):
            raise GuestNotFound(name=ref, tried=f"/proc/{value}/ns/net")
        return _from_pid(int(value), ref)
    if kind == "netns":
        if "/" in value or not os.path.exists(os.path.join(NETNS_RUN_DIR, value)):
            raise GuestNotFound(name=ref, tried=f"{NETNS_RUN_DIR}/{value}")
        return _from_netns(value, ref)
    if kind == "path":
        if not os.path.exists(value):
            raise GuestNotFound(name=ref, tried=value)
        if os.stat(value).st_dev != os.stat("/proc/self/ns/net").st_dev:
            raise InvalidInput(what="guest path", value=value,
                               why="it is not a network namespace file (like /proc/PID/ns/net or /run/netns/NAME)")
        return Guest("path", ref, value, f"path:{value}", value, _nsid(value, ref), mode="netns")
    if kind == "cni":
        return _from_cni(value, ref)
    guest = _from_docker(value, ref, docker or DockerClient())
    if guest is None:
        raise GuestNotFound(name=ref, tried="Docker container")
    return guest


def _from_cni(value: str, ref: str) -> Guest:
    ident, _, path = value.partition(":")
    container_id, _, ifname = ident.partition("/")
    if not container_id or not ifname:
        raise InvalidInput(what="CNI guest", value=ref, why="write it as cni:CONTAINERID/IFNAME:NETNS_PATH")
    if not path or not os.path.exists(path):
        raise GuestNotFound(name=ref, tried=path or "no network namespace given")
    if os.stat(path).st_dev != os.stat("/proc/self/ns/net").st_dev:
        raise InvalidInput(what="CNI network namespace", value=path,
                           why="it is not a network namespace file (like /run/netns/NAME or /proc/PID/ns/net)")
    name = f"{container_id[:12]}/{ifname}"
    return Guest("cni", ref, name, cni_key(container_id, ifname), path, _nsid(path, ref), mode="netns")


def _nsid(path: str, ref: str) -> str:
    try:
        return netns_id(path)
    except PermissionError:
        raise InvalidInput(what="guest", value=ref, why="its network namespace is not readable; run as root") from None


def _from_pid(pid: int, ref: str) -> Guest:
    path = f"/proc/{pid}/ns/net"
    start = process_start(pid) or "0"  # the key of a pid that is gone matches no live process
    return Guest("pid", ref, f"pid {pid}", f"pid:{pid}:{start}", path, _nsid(path, ref), pid=pid, mode="netns")


def _from_netns(name: str, ref: str) -> Guest:
    path = os.path.join(NETNS_RUN_DIR, name)
    return Guest("netns", ref, name, f"netns:{name}", path, _nsid(path, ref), mode="netns")


def _from_docker(name: str, ref: str, docker: DockerClient) -> Guest | None:
    info = docker.inspect(name)
    if info is None:
        return None
    return guest_from_inspect(info, ref)


def guest_from_inspect(info: dict[str, Any], ref: str) -> Guest:
    cname = str(info.get("Name", "")).lstrip("/") or ref
    state = info.get("State") or {}
    pid = int(state.get("Pid") or 0)
    if not state.get("Running") or pid <= 0:
        raise GuestNotRunning(name=cname)
    mode = str((info.get("HostConfig") or {}).get("NetworkMode") or "default")
    path = f"/proc/{pid}/ns/net"
    return Guest("docker", ref, cname, f"docker:{info['Id']}", path, _nsid(path, ref), pid=pid, mode=mode)


"""DHCP from the host into a guest: run a one-shot client inside the guest's netns.

The client (busybox udhcpc, or dhclient) only negotiates; its hook script prints the lease
and wirework applies the address and route itself through netlink, so the result is undone
like any other step. Like pipework, the client runs once (no daemon is left in the guest);
the lease (address, length, server, when it was obtained) goes into the attachment's record
through a `DhcpLease` undo step, and `request_lease` asks for the same address again when it
is time to renew (the resident service does that: `attachments`' `renew_leases`).
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

from wirework.drivers.links import where
from wirework.drivers.routes import AddAddress, AddRoute
from wirework.errors import NotFound, WireworkError
from wirework.model.host import Host, RouteSpec
from wirework.plan.commands import run_in
from wirework.plan.steps import Step, register

# Handles both hook conventions: udhcpc ($1=bound, $ip $mask $router) and dhclient
# ($reason=BOUND, $new_ip_address ...). It only prints; it changes nothing.
_HOOK = """#!/bin/sh
case "${1:-}${reason:-}" in
  bound|renew) echo "WWLEASE ip=$ip mask=${mask:-} subnet=${subnet:-} router=${router%% *} lease=${lease:-} server=${serverid:-}" ;;
  BOUND|REBOOT|RENEW) echo "WWLEASE ip=$new_ip_address mask= subnet=$new_subnet_mask router=${new_routers%% *} lease=$new_dhcp_lease_time server=${new_dhcp_server_identifier:-}" ;;
esac
exit 0
"""


class DhcpFailed(WireworkError):
    template = "no DHCP lease for {ifname} in {ns} via {client}: {why}"


HOOK_DIR = "/run/wirework"


def _hook_path() -> str:
    """The hook, in a directory only root can write, rewritten unless it is exactly ours.

    It runs as root, so neither the directory nor the file may belong to anyone else.
    """
    os.makedirs(HOOK_DIR, mode=0o755, exist_ok=True)
    st = os.lstat(HOOK_DIR)
    if st.st_uid != 0 or st.st_mode & 0o022 or not os.path.isdir(HOOK_DIR) or os.path.islink(HOOK_DIR):
        raise DhcpFailed(ifname="-", ns="-", client="-", why=f"{HOOK_DIR} is not a root-owned directory; fix it")
    path = os.path.join(HOOK_DIR, "dhcp-hook.sh")
    try:
        fst = os.lstat(path)
        with open(path, encoding="ascii") as f:
            current = f.read()
        if fst.st_uid == 0 and not fst.st_mode & 0o022 and not os.path.islink(path) and current == _HOOK:
            return path
    except (OSError, UnicodeDecodeError):
        pass
    fd, tmp = tempfile.mkstemp(dir=HOOK_DIR)
    with os.fdopen(fd, "w") as f:
        f.write(_HOOK)
    os.chmod(tmp, 0o700)
    os.replace(tmp, path)
    return path


def parse_lease(output: str) -> dict[str, str]:
    for line in output.splitlines():
        if line.startswith("WWLEASE "):
            return dict(part.split("=", 1) for part in line.split()[1:] if "=" in part)
    return {}


def lease_cidr(lease: dict[str, str]) -> str:
    prefix = lease.get("mask") or ""
    if not prefix and lease.get("subnet"):
        prefix = str(ipaddress.ip_network(f"0.0.0.0/{lease['subnet']}").prefixlen)
    return f"{lease['ip']}/{prefix or 32}"


def _client_argv(host: Host, ifname: str, client: str, options: Sequence[str], requested: str | None) -> tuple[str, list[str]]:
    hook = _hook_path()
    udhcpc = ["udhcpc", "-i", ifname, "-f", "-q", "-n", "-t", "5", "-T", "1", "-A", "1", "-s", hook,
              *(["-r", requested] if requested else []), *options]
    if client in ("auto", "udhcpc"):
        if host.proc.which("udhcpc"):
            return "udhcpc", udhcpc
        if host.proc.which("busybox"):
            return "udhcpc", ["busybox", *udhcpc]
    if client in ("auto", "dhclient") and host.proc.which("dhclient"):
        return "dhclient", ["dhclient", "-1", "-sf", hook, "-pf", "/dev/null", "-lf", "/dev/null", *options, ifname]
    raise NotFound(what="DHCP client", name=client, fix="install busybox-static (udhcpc) or isc-dhcp-client")


def request_lease(host: Host, ns: str, ifname: str, client: str = "auto", options: Sequence[str] = (),
                  requested: str | None = None) -> dict[str, str]:
    """Run the client once in `ns` (asking for `requested`, when renewing) and return the lease
    it printed (ip, mask/subnet, router, lease seconds, server); nothing is changed here."""
    name, argv = _client_argv(host, ifname, client, options, requested)
    try:
        out = host.proc.run_in(ns, argv, timeout=30)
    except WireworkError as exc:
        raise DhcpFailed(ifname=ifname, ns=ns, client=name, why=str(exc)) from None
    lease = parse_lease(out)
    if not lease.get("ip"):
        raise DhcpFailed(ifname=ifname, ns=ns, client=name, why="no server answered")
    return lease


@register
@dataclass(frozen=True)
class RunDhcpClient(Step):
    kind = "run_dhcp_client"
    ifname: str
    ns: str
    client: str = "auto"
    default_route: bool = True
    options: tuple[str, ...] = ()  # pipework's dhcp:OPTIONS, passed to the client as they are

    def apply(self, host: Host) -> Sequence[Step]:
        lease = request_lease(host, self.ns, self.ifname, self.client, self.options)
        undo: list[Step] = []
        undo += AddAddress(self.ifname, lease_cidr(lease), self.ns).apply(host)
        if self.default_route and lease.get("router"):
            undo += AddRoute(RouteSpec("default", gateway=lease["router"], dev=self.ifname), self.ns).apply(host)
        undo.append(DhcpLease.of(lease, self))
        return list(reversed(undo))

    def changes_existing(self) -> bool:
        return False  # the lease's address and route sit on the interface the plan created

    def describe(self) -> str:
        return f"get a DHCP lease for {self.ifname}{where(self.ns)} ({self.client}) and apply it"

    def commands(self) -> list[str]:
        # udhcpc's default script (busybox) configures the address and the default route itself.
        return [f"{run_in(self.ns)}udhcpc -i {self.ifname} -f -q -n -t 5 -T 1 -A 1"]


@register
@dataclass(frozen=True)
class DhcpLease(Step):
    """The lease a `RunDhcpClient` took, carried in the attachment's undo steps so that its
    record knows it (what to renew, and when). Undoing it changes nothing on the host: the
    address and route have undo steps of their own, and the server lets an unrenewed lease lapse."""

    kind = "dhcp_lease"
    ifname: str
    ns: str
    ip: str  # ADDRESS/PREFIX
    router: str = ""
    seconds: int = 0  # the lease's length (0: the server did not say)
    server: str = ""
    obtained: float = 0.0
    client: str = "auto"
    options: tuple[str, ...] = ()
    default_route: bool = True

    @classmethod
    def of(cls, lease: dict[str, str], step: RunDhcpClient) -> DhcpLease:
        return cls(step.ifname, step.ns, lease_cidr(lease), lease.get("router", ""), int(lease.get("lease") or 0),
                   lease.get("server", ""), time.time(), step.client, step.options, step.default_route)

    def apply(self, host: Host) -> Sequence[Step]:
        return ()

    def changes_existing(self) -> bool:
        return False  # changes nothing at all

    def describe(self) -> str:
        return f"let the DHCP lease of {self.ip} on {self.ifname}{where(self.ns)} lapse (nothing to change)"

    def commands(self) -> list[str]:
        return []

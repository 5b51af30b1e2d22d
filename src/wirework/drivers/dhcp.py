"""DHCP from the host into a guest: run a one-shot client inside the guest's netns.

The client (busybox udhcpc, or dhclient) only negotiates; its hook script prints the lease
and wirework applies the address and route itself through netlink, so the result is undone
like any other step. Like pipework, the client runs once (no renewal daemon is left behind).
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

from wirework.drivers.links import AddAddress, AddRoute, where
from wirework.errors import NotFound, WireworkError
from wirework.model.host import Host, RouteSpec
from wirework.plan.steps import Step, register

# Handles both hook conventions: udhcpc ($1=bound, $ip $mask $router) and dhclient
# ($reason=BOUND, $new_ip_address ...). It only prints; it changes nothing.
_HOOK = """#!/bin/sh
case "${1:-}${reason:-}" in
  bound|renew) echo "WWLEASE ip=$ip mask=${mask:-} subnet=${subnet:-} router=${router%% *} lease=${lease:-}" ;;
  BOUND|REBOOT|RENEW) echo "WWLEASE ip=$new_ip_address mask= subnet=$new_subnet_mask router=${new_routers%% *} lease=$new_dhcp_lease_time" ;;
esac
exit 0
"""


class DhcpFailed(WireworkError):
    template = "no DHCP lease for {ifname} in {ns} via {client}: {why}"


def _hook_path() -> str:
    directory = os.path.join(tempfile.gettempdir(), "wirework")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, "dhcp-hook.sh")
    if not os.path.exists(path):
        fd, tmp = tempfile.mkstemp(dir=directory)
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


@register
@dataclass(frozen=True)
class RunDhcpClient(Step):
    kind = "run_dhcp_client"
    ifname: str
    ns: str
    client: str = "auto"
    default_route: bool = True

    def _argv(self, host: Host) -> tuple[str, list[str]]:
        hook = _hook_path()
        udhcpc = [
            "udhcpc", "-i", self.ifname, "-f", "-q", "-n", "-t", "5", "-T", "1", "-A", "1", "-s", hook,
        ]
        if self.client in ("auto", "udhcpc"):
            if host.proc.which("udhcpc"):
                return "udhcpc", udhcpc
            if host.proc.which("busybox"):
                return "udhcpc", ["busybox", *udhcpc]
        if self.client in ("auto", "dhclient") and host.proc.which("dhclient"):
            return "dhclient", ["dhclient", "-1", "-sf", hook, "-pf", "/dev/null", "-lf", "/dev/null", self.ifname]
        raise NotFound(what="DHCP client", name=self.client, fix="install busybox-static (udhcpc) or isc-dhcp-client")

    def apply(self, host: Host) -> Sequence[Step]:
        client, argv = self._argv(host)
        try:
            out = host.proc.run_in(self.ns, argv, timeout=30)
        except WireworkError as exc:
            raise DhcpFailed(ifname=self.ifname, ns=self.ns, client=client, why=str(exc)) from None
        lease = parse_lease(out)
        if not lease.get("ip"):
            raise DhcpFailed(ifname=self.ifname, ns=self.ns, client=client, why="no server answered")
        undo: list[Step] = []
        undo += AddAddress(self.ifname, lease_cidr(lease), self.ns).apply(host)
        if self.default_route and lease.get("router"):
            undo += AddRoute(RouteSpec("default", gateway=lease["router"], dev=self.ifname), self.ns).apply(host)
        return list(reversed(undo))

    def describe(self) -> str:
        return f"get a DHCP lease for {self.ifname}{where(self.ns)} ({self.client}) and apply it"

    def commands(self) -> list[str]:
        return [f"nsenter --net={self.ns} udhcpc -i {self.ifname} -q -n"]

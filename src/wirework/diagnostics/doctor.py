"""`wirework doctor` (S12): the usual reasons a container network does not work, each with
what was found, why it matters and the exact fix. Read-only; `root` points the file-based
checks (NetworkManager, systemd-networkd) at another tree for tests.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import asdict, dataclass
from typing import Any

from wirework.attachments import records
from wirework.context import HostContext
from wirework.diagnostics.doctor_fw import firewall_findings, stale_firewall
from wirework.diagnostics.doctor_guests import guest_findings
from wirework.diagnostics.fixes import here, wirework
from wirework.errors import WireworkError
from wirework.kernel.proc import process_alive, read_text
from wirework.naming import owner_of
from wirework.networks import endpoints
from wirework.networks import network as nets
from wirework.networks.network import Network
from wirework.networks.subnets.occupancy import probe_occupied
from wirework.networks.subnets.pools import overlaps
from wirework.plan.commands import ip_in
from wirework.plan.executor import OPS_PREFIX

NM_DIRS = ("etc/NetworkManager/system-connections", "run/NetworkManager/system-connections")
NM_CONF = ("etc/NetworkManager/NetworkManager.conf", "etc/NetworkManager/conf.d")
NETWORKD_DIRS = ("etc/systemd/network", "run/systemd/network", "usr/lib/systemd/network", "lib/systemd/network")


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str  # "error" or "warning"
    what: str
    why: str
    fix: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def diagnose(ctx: HostContext, *, root: str = "/") -> list[Finding]:
    networks = nets.all_networks(ctx.store, ctx.host_id)
    out: list[Finding] = []
    out += forwarding(ctx, networks)
    out += firewall_findings(ctx, networks)
    out += managers(ctx, networks, root)
    out += collisions(ctx, networks, root)
    out += mtu(ctx, networks)
    out += tunnel_mtu_findings(ctx)
    out += stale_links(ctx)
    out += stale_firewall(ctx, networks)
    out += interrupted(ctx)
    out += guest_findings(ctx)
    return out


def forwarding(ctx: HostContext, networks: list[Network]) -> list[Finding]:
    nat = [n.name for n in networks if n.nat]
    if not nat or ctx.host.sysctl.get("net.ipv4.ip_forward") != "0":
        return []
    return [Finding("ip-forward-off", "error", "net.ipv4.ip_forward is 0",
                    f"guests of {', '.join(nat)} cannot reach anything beyond the host (Docker: "
                    f"'IPv4 forwarding is disabled. Networking will not work.')",
                    here(ctx, "sysctl -w net.ipv4.ip_forward=1") + (
                        "" if ctx.host.netns else ", and persist it: echo net.ipv4.ip_forward=1 "
                        "> /etc/sysctl.d/99-wirework.conf"))]


def _interfaces(ctx: HostContext, networks: list[Network]) -> list[str]:
    names = [n.bridge for n in networks]
    names += [a.host_ifname for a in records.all_for_host(ctx.store, ctx.host_id) if a.host_ifname]
    return names


def managers(ctx: HostContext, networks: list[Network], root: str) -> list[Finding]:
    names = _interfaces(ctx, networks)
    if not names:
        return []
    return _network_manager(names, root) + _networkd(names, root)


def _files(root: str, dirs: tuple[str, ...]) -> list[str]:
    out = []
    for d in dirs:
        path = os.path.join(root, d)
        if os.path.isfile(path):
            out.append(path)
        elif os.path.isdir(path):
            out += [os.path.join(path, n) for n in sorted(os.listdir(path))]
    return out


def _network_manager(names: list[str], root: str) -> list[Finding]:
    if not os.path.isdir(os.path.join(root, "etc/NetworkManager")):
        return []
    out = []
    for path in _files(root, NM_DIRS):
        text = read_text(path)
        for name in names:
            if f"interface-name={name}\n" in text + "\n":
                out.append(Finding("nm-manages", "error", f"NetworkManager has a connection for {name} ({path})",
                                   "it will reconfigure or tear down an interface wirework owns",
                                   f"remove it: nmcli connection delete filename {path}"))
    conf = "\n".join(read_text(p) for p in _files(root, NM_CONF))
    if "interface-name:ctx" not in conf:
        out.append(Finding("nm-unmanaged-missing", "warning", "NetworkManager does not leave wirework's interfaces alone",
                           "it may take over new bridges and veths (ctx-*, wwv*) and drop their addresses",
                           "printf '[keyfile]\\nunmanaged-devices=interface-name:ctx-*;interface-name:wwv*\\n' > "
                           "/etc/NetworkManager/conf.d/wirework.conf && systemctl reload NetworkManager"))
    return out


def _networkd(names: list[str], root: str) -> list[Finding]:
    out = []
    for path in _files(root, NETWORKD_DIRS):
        if not path.endswith(".network"):
            continue
        text = read_text(path)
        if "Unmanaged=yes" in text.replace(" ", ""):
            continue
        patterns = [p for line in text.splitlines() if line.strip().startswith("Name=")
                    for p in line.split("=", 1)[1].split()]
        hit = sorted({n for n in names for p in patterns if fnmatch.fnmatchcase(n, p)})
        if hit:
            out.append(Finding("networkd-manages", "warning",
                               f"systemd-networkd's {path} matches {', '.join(hit[:3])}",
                               "networkd configures (and may flush) interfaces its [Match] Name= patterns cover",
                               f"narrow the Name= patterns in {path}, or add a wirework.network before it with "
                               f"[Match] Name=ctx-* wwv* and [Link] Unmanaged=yes"))
    return out


def collisions(ctx: HostContext, networks: list[Network], root: str) -> list[Finding]:
    import ipaddress

    out = []
    for net in networks:
        occupied = probe_occupied(ctx.host, ctx.store, ctx.host_id, ctx.docker, root=root, exclude_bridge=net.bridge,
                                  exclude_net=net.name)
        for hit in overlaps(ipaddress.ip_network(net.subnet), occupied):
            out.append(Finding("subnet-collision", "error", f"network {net.name} ({net.subnet}) overlaps {hit.reason}",
                               "traffic to those addresses goes to one of them only: guests or that network "
                               "become unreachable",
                               f"move the network: {wirework(ctx, f'network rm {net.name}')} && "
                               f"{wirework(ctx, f'network create {net.name}')} (a free subnet is chosen), "
                               f"or remove the other route"))
    return out


def mtu(ctx: HostContext, networks: list[Network]) -> list[Finding]:
    bridges = {n.name: ctx.host.net.link(n.bridge) for n in networks}
    out = []
    for ep in endpoints.all_endpoints(ctx.store, ctx.host_id):
        bridge = bridges.get(ep.network)
        if not ep.ifname:
            continue  # Docker's endpoints: Docker names them inside the container
        try:
            link = ctx.host.net.link(ep.ifname, ep.guest.netns_path)
        except WireworkError:
            continue
        if bridge is None or link is None or link.mtu == bridge.mtu:
            continue
        out.append(Finding("mtu-mismatch", "warning",
                           f"{ep.guest.name}'s {ep.ifname} has MTU {link.mtu}, bridge {bridge.name} has {bridge.mtu}",
                           "larger packets are dropped silently on one side (TCP may stall, ping -s fails)",
                           f"{ip_in(ep.guest.netns_path)} link set {ep.ifname} mtu {bridge.mtu}, or recreate the "
                           f"network with --mtu"))
    return out


def tunnel_mtu_findings(ctx: HostContext) -> list[Finding]:
    """Interfaces of a tunnelled network whose MTU is above what the tunnel carries: packets
    that size vanish silently inside the tunnel (a black hole that only large transfers hit)."""
    from wirework.tunnels import ovs as tunnel

    out = []
    for entry in ctx.store.scan(f"{tunnel.PREFIX}{ctx.host_id}/"):
        rec = entry.value
        dev = tunnel.route_dev(ctx.host.net.routes(), str(rec["remote"]))
        link = ctx.host.net.link(dev) if dev else None
        if link is None:
            continue
        limit = tunnel.tunnel_mtu(link.mtu, str(rec["type"]), key=rec.get("key") is not None,
                                  ipv6=":" in str(rec["remote"]))
        steps = tunnel.mtu_steps(ctx, str(rec["bridge"]), limit)
        too_big = [f"{s.name}{' in ' + s.ns if s.ns else ''}" for s in steps]  # type: ignore[attr-defined]
        fixes = [here(ctx, c) for s in steps for c in s.commands()]
        bridge, remote, type_ = rec["bridge"], rec["remote"], rec["type"]
        readd = (f"{wirework(ctx, f'tunnel rm {bridge} {remote}')} && "
                 f"{wirework(ctx, f'tunnel add {bridge} --type {type_} --remote {remote}')}")
        if too_big:
            out.append(Finding("tunnel-mtu", "error",
                               f"{', '.join(too_big)} on the {rec['type']} tunnel {rec['port']} of {rec['bridge']} "
                               f"have an MTU above {limit} (underlay {dev} is {link.mtu})",
                               "packets larger than the tunnel carries are dropped silently: pings pass, "
                               "big transfers stall",
                               f"{'; '.join(fixes)}; or re-add the tunnel: {readd}"))
    return out


def stale_links(ctx: HostContext) -> list[Finding]:
    nets_known = {f"net:{n.name}" for n in nets.all_networks(ctx.store, ctx.host_id)}
    atts_known = {a.owner for a in records.all_for_host(ctx.store, ctx.host_id)}
    out = []
    for link in ctx.host.net.links():
        owner = owner_of(link.alias)
        if owner is None or owner in atts_known or owner in nets_known:
            continue
        if owner.startswith(("net:", "att:")):
            what = f"network {owner[4:]}" if owner.startswith("net:") else "a guest wirework no longer knows"
            out.append(Finding("stale-link", "warning", f"interface {link.name} was made by wirework for {what}, "
                               "but no record owns it", "a left-over of an interrupted or hand-undone operation",
                               f"{here(ctx, f'ip link del {link.name}')}  (or: {wirework(ctx, 'gc')})"))
    if ctx.host.ovs.available():
        for port, _bridge, owner in ctx.host.ovs.owned_ports():
            if owner.startswith("att:") and owner not in atts_known:
                out.append(Finding("stale-ovs-port", "warning", f"OVS port {port} was made by wirework for a guest "
                                   "it no longer knows", "a left-over of an interrupted operation",
                                   here(ctx, f"ovs-vsctl del-port {port}")))
    return out


def interrupted(ctx: HostContext) -> list[Finding]:
    out = []
    for entry in ctx.store.scan(OPS_PREFIX):
        if not process_alive(int(entry.value.get("pid", 0)), entry.value.get("pid_start")):
            plan = entry.value.get("plan", {})
            out.append(Finding("interrupted-operation", "warning",
                               f"a wirework {plan.get('operation')} was interrupted (process {entry.value.get('pid')})",
                               "its half-made changes are still on the host", f"{wirework(ctx, 'gc')} (rolls it back)"))
    return out

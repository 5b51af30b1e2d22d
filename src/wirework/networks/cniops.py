"""CNI attachments on wirework networks: what the CNI front (`wirework.cni`) asks for.

CNI names an attachment by (container id, interface name, network). Here that is a guest of
kind `cni` keyed by the first two (`model.guest.cni_key`), connected to a wirework network
like any other guest (`networks.connops`: IPAM lease, veth, address, default route,
published ports, one journaled plan). The network is ensured from the configuration: created
when missing, used when the stored definition agrees, refused naming the field when not.

DEL and GC need no namespace: the endpoint record holds everything to undo, the lease is
found by the key, and a journal left by a killed ADD is recovered first.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wirework.attachments import records
from wirework.context import HostContext
from wirework.errors import Conflict, InvalidConfig, NotAvailable, NotFound, StateError
from wirework.guests.cniexec import PluginRun
from wirework.ipam import Ipam
from wirework.kernel.proc import process_alive, process_start
from wirework.model.guest import cni_key, cni_ref, parse_cni_key
from wirework.networks import connops, endpoints, netops
from wirework.networks import network as nets
from wirework.networks.connect import validate_connect
from wirework.networks.endpoints import Endpoint
from wirework.networks.network import Network
from wirework.plan.executor import recover
from wirework.store.base import Compare, Delete

#: Runs a delegated plugin: (plugin type, CNI_COMMAND, environment, stdin) -> its run, or None
#: when no such program is in CNI_PATH. Built by the API layer (`guests.cniexec`).
Delegate = Callable[[str, str, Mapping[str, str], str], "PluginRun | None"]

#: `cnilock/<host>/<network>`: held while an ADD creates that network.
LOCK_PREFIX = "cnilock/"


@dataclass(frozen=True)
class CniAdd:
    """One ADD, validated by the front."""

    network: str
    options: Mapping[str, Any]  # only the network options the configuration gives
    container_id: str
    ifname: str
    netns: str
    ip: str | None = None
    mac: str | None = None
    publish: tuple[str, ...] = ()  # docker-style -p texts
    default_route: bool | None = None  # None: when the container has none yet


@dataclass(frozen=True)
class CniLink:
    name: str
    mac: str
    mtu: int | None = None
    sandbox: str = ""


@dataclass(frozen=True)
class CniAttachment:
    """What ADD made, as the CNI result reports it."""

    network: Network
    bridge: CniLink
    host: CniLink
    container: CniLink
    address: str  # ADDRESS/PREFIX
    default_route: bool


class CniAttachments:
    def __init__(self, ctx: HostContext, delegate: Delegate) -> None:
        self.ctx = ctx
        self._delegate = delegate

    # -- the network ---------------------------------------------------------------------
    def ensure_network(self, name: str, options: Mapping[str, Any], existing: Network | None = None) -> Network:
        """The stored network (`existing`, or as loaded) when it agrees with `options`; created
        when missing. A stored network's bridge is not probed here: a missing one shows up in
        the connect that follows, which rebuilds it then (one netlink read less per ADD)."""
        existing = existing or nets.load(self.ctx.store, self.ctx.host_id, name)
        if existing is None:
            with self._creating(name):  # the first ADDs of a network race to create it
                existing = nets.load(self.ctx.store, self.ctx.host_id, name)
                if existing is None:
                    try:
                        return netops.create(self.ctx, nets.validate_network(name, **options)).network
                    except Conflict as exc:  # a colliding subnet or bridge: the configuration is at fault
                        raise InvalidConfig(str(exc)) from None
        _check_same(existing, name, options, self.ctx.host_id)
        return existing

    def _drop_dead_lock(self, name: str) -> bool:
        """Remove the creation lock of `name` when the process holding it is gone."""
        key = f"{LOCK_PREFIX}{self.ctx.host_id}/{name}"
        held = self.ctx.store.get(key)
        if held is None or process_alive(int(held.value["pid"]), held.value["start"]):
            return False
        return self.ctx.store.txn([Compare(key, held.revision)], [Delete(key)])

    @contextlib.contextmanager
    def _creating(self, name: str) -> Iterator[None]:
        """A lock in the store (create-if-absent) held while one process creates network `name`;
        one whose holder died is taken over."""
        key = f"{LOCK_PREFIX}{self.ctx.host_id}/{name}"
        me = {"pid": os.getpid(), "start": process_start(os.getpid())}
        deadline = time.monotonic() + 60
        while not self.ctx.store.create(key, me):
            if self._drop_dead_lock(name):
                continue
            if time.monotonic() > deadline:
                raise Conflict(f"network {name} has been in creation by another process for a minute; try again")
            time.sleep(0.01)
        try:
            yield
        finally:
            self.ctx.store.delete(key)

    # -- ADD -----------------------------------------------------------------------------
    def add(self, network: str, options: Mapping[str, Any], container_id: str, ifname: str, netns: str, *,
            ip: str | None = None, mac: str | None = None, publish: Sequence[str] = (),
            default_route: bool | None = None) -> CniAttachment:
        """Connect the container's namespace to the network (ensured first) as `ifname`."""
        req = CniAdd(network, dict(options), container_id, ifname, netns, ip, mac, tuple(publish), default_route)
        spec = validate_connect(req.network, cni_ref(container_id, ifname, netns), ip=_address(ip), publish=req.publish,
                                ifname=ifname, default_route=default_route, mac=mac)
        stored = nets.load(self.ctx.store, self.ctx.host_id, req.network)
        self._precheck(req, stored)
        net = self.ensure_network(req.network, req.options, stored)
        try:
            result = connops.connect(self.ctx, spec)
        except NotFound:
            if self.ctx.host.net.link(net.bridge) is not None:
                raise
            netops.create(self.ctx, _spec_of(net))  # its bridge is gone (a reboot): rebuild, then wire
            result = connops.connect(self.ctx, spec)
        if not result.changed:
            raise Conflict(f"container {req.container_id[:12]} already has {req.ifname} on network {net.name}; "
                           f"the runtime must DEL it before adding it again")
        return self.describe(net, result.endpoint)

    def _precheck(self, req: CniAdd, net: Network | None) -> None:
        """Refusals that would otherwise come only after a missing network was made."""
        if net is None and self.ctx.host.net.link(req.ifname, req.netns) is not None:
            raise Conflict(f"interface {req.ifname} already exists in the container's namespace {req.netns}; "
                           f"the runtime must name another CNI_IFNAME")
        if req.ip is None:
            return
        if net is None and not req.options.get("subnet"):
            raise InvalidConfig(what="requested address", value=req.ip,
                                why=f"network {req.network} does not exist yet and the configuration gives no "
                                    "subnet to check it against; add 'subnet'")
        if net is None:
            net = nets.settle(nets.validate_network(req.network, **req.options), self.ctx.host_id,
                              str(req.options["subnet"]))
        _, _, prefix = req.ip.partition("/")
        if prefix and prefix != str(net.addresses().prefixlen):
            raise InvalidConfig(what="requested address", value=req.ip,
                                why=f"network {net.name} is {net.subnet}: the prefix must be /{net.addresses().prefixlen}")
        net.addresses().check_static(_address(req.ip) or "")

    def describe(self, net: Network, ep: Endpoint) -> CniAttachment:
        att = records.load(self.ctx.store, self.ctx.host_id, ep.att_id)
        host_ifname = att.host_ifname if att is not None else ""
        bridge = self.ctx.host.net.hwaddr(net.bridge) or ("", None)
        veth = self.ctx.host.net.hwaddr(host_ifname) if host_ifname else None
        mtu = veth[1] if veth is not None else net.mtu
        return CniAttachment(
            network=net, bridge=CniLink(net.bridge, bridge[0], bridge[1]),
            host=CniLink(host_ifname, veth[0] if veth else "", mtu),
            container=CniLink(ep.ifname, att.mac if att else "", mtu, ep.guest.netns_path),
            address=ep.ip, default_route=ep.default_route)

    def endpoint(self, network: str, container_id: str, ifname: str) -> Endpoint | None:
        return endpoints.load(self.ctx.store, self.ctx.host_id, network, cni_key(container_id, ifname))

    # -- CHECK ---------------------------------------------------------------------------
    def check(self, network: str, container_id: str, ifname: str, netns: str, expected_ips: Sequence[str] = (),
              expected_mac: str | None = None) -> None:
        """Raise Drifted at the first difference between what ADD made (or, for the MAC and
        extra addresses, what the runtime's prevResult says) and the machine."""
        from wirework.networks.cnicheck import check

        check(self.ctx, network, container_id, ifname, netns, expected_ips, expected_mac)

    # -- DEL and GC ----------------------------------------------------------------------
    def delete(self, network: str, container_id: str, ifname: str) -> list[str]:
        """Remove the attachment, whatever is left of it; absence is success. Returns what
        teardown could not remove: then its records and lease are kept, so that a later DEL
        or GC finishes it (and the address is not handed out while the old veth may hold it)."""
        recover(self.ctx.host, self.ctx.store)  # a killed ADD of this very attachment, say
        key = cni_key(container_id, ifname)
        ep = endpoints.load(self.ctx.store, self.ctx.host_id, network, key)
        errors = connops.drop_endpoint(self.ctx, ep, release=False) if ep is not None else []
        if not errors:
            Ipam(self.ctx.store, self.ctx.host_id).release(network, key, remember=False)
        return errors

    def gc(self, network: str, valid: Collection[tuple[str, str]]) -> tuple[list[str], list[str]]:
        """Remove every CNI attachment of `network` not in `valid` (container id, ifname),
        and the leases of ADDs that never finished. Returns (removed, errors)."""
        recover(self.ctx.host, self.ctx.store)
        self._drop_dead_lock(network)
        removed: list[str] = []
        errors: list[str] = []
        keep = set(valid)
        ipam = Ipam(self.ctx.store, self.ctx.host_id)
        for ep in endpoints.on_network(self.ctx.store, self.ctx.host_id, network):
            ident = parse_cni_key(ep.guest.key)
            if ident is None or ident in keep:
                continue
            left = connops.drop_endpoint(self.ctx, ep, release=False)
            if left:  # its records and lease stay for the next GC
                errors += left
                keep.add(ident)
                continue
            ipam.release(network, ep.guest.key, remember=False)
            removed.append(f"{ident[0]}/{ident[1]}")
        for lease in ipam.leases(network):
            ident = parse_cni_key(lease.owner)
            if ident is not None and ident not in keep:
                ipam.release(network, lease.owner, remember=False)
                removed.append(f"{ident[0]}/{ident[1]} (lease {lease.ip})")
        return removed, errors

    # -- STATUS --------------------------------------------------------------------------
    def status(self, network: str) -> None:
        """Raise NotAvailable when an ADD on `network` cannot be served now."""
        try:
            net = nets.load(self.ctx.store, self.ctx.host_id, network)
        except (StateError, OSError) as exc:
            raise NotAvailable(why=f"the state store cannot be read ({exc})") from None
        if net is None:
            return  # ADD creates it
        rng = net.addresses()
        first, last = rng.bounds()
        leases = Ipam(self.ctx.store, self.ctx.host_id).leases(net.name)
        taken = sum(1 for lease in leases if rng.in_dynamic_range(lease.ip))
        gateway_inside = rng.in_dynamic_range(net.gateway)
        if taken + gateway_inside >= last - first + 1:
            raise NotAvailable(why=f"network {net.name} has no free address left in {net.ip_range or net.subnet}")

    # -- delegated plugins (IPAM) ----------------------------------------------------------
    def delegate(self, plugin: str, command: str, env: Mapping[str, str], stdin: str) -> PluginRun:
        run = self._delegate(plugin, command, env, stdin)
        if run is None:
            raise InvalidConfig(what="ipam type", value=plugin,
                                why=f"no such program in CNI_PATH ({env.get('CNI_PATH', '')}); install the plugin there")
        return run


def _check_same(existing: Network, name: str, options: Mapping[str, Any], host: str) -> None:
    """Every option the configuration gives must match the stored network."""
    if not options:
        return
    wanted = nets.settle(nets.validate_network(name, **options), host, options.get("subnet") or existing.subnet)
    for option in options:
        if getattr(wanted, option) != getattr(existing, option):
            raise InvalidConfig(what=option.replace("_", " "), value=str(options[option]), why=(
                f"network {name} already exists with {option} {getattr(existing, option)}; use the same "
                f"value (or leave it out), or remove the network first ('wirework network rm {name}')"))


def _address(ip: str | None) -> str | None:
    return ip.split("/")[0] if ip else None


def _spec_of(net: Network) -> nets.NetworkSpec:
    return nets.validate_network(net.name, subnet=net.subnet, gateway=net.gateway, ip_range=net.ip_range,
                                 bridge=net.bridge, internal=net.internal, masquerade=net.masquerade,
                                 icc=net.icc, mtu=net.mtu)

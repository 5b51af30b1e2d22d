"""Netlink adapter, core part: sockets per namespace, links, and link changes (bridge ports and
offloads: `netlink.PortOps`).

The host's socket is opened once inside the host's netns; guest sockets are opened inside
the guest's netns (setns in this thread, create, switch back) and kept in a small cache keyed
by the namespace's inode, because pyroute2's `IPRoute(netns=...)` forks a helper per socket
and costs ~20 ms. Every method is either a read or one targeted change; "absent" answers
are not errors for deletes.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import struct
import time
from collections import OrderedDict
from typing import Any

from wirework.errors import Conflict, NotFound, Unsupported
from wirework.kernel.netlink_lib import IPRoute, NetlinkError
from wirework.kernel.netns import inside, netns_id, netns_path, open_netns
from wirework.model.host import LinkInfo
from wirework.naming import owner_of

_GUEST_SOCKETS = 16
#: How long a name -> index answer is trusted. Indices are never reused soon within a netns,
#: so a stale entry fails with ENODEV (and is looked up again) rather than hitting another link.
_INDEX_TTL = 2.0
_SIOCGIFHWADDR, _SIOCGIFMTU = 0x8927, 0x8921


class LinkCore:
    """Sockets per namespace, link reads and link changes; the other parts build on it."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns_path = netns_path(netns) if netns else None
        self._host: IPRoute | None = None
        self._guests: OrderedDict[tuple[str, str], IPRoute] = OrderedDict()
        self._indices: dict[tuple[str | None, str], tuple[int, float]] = {}

    # -- sockets -----------------------------------------------------------------------
    def sock(self, ns: str | None = None) -> IPRoute:
        if ns is None:
            if self._host is None:
                with inside(self.netns_path):
                    self._host = IPRoute()
            return self._host
        key = (ns, netns_id(ns))
        ipr = self._guests.get(key)
        if ipr is None:
            with inside(ns):
                ipr = IPRoute()
            self._guests[key] = ipr
            while len(self._guests) > _GUEST_SOCKETS:
                self._guests.popitem(last=False)[1].close()
        else:
            self._guests.move_to_end(key)
        return ipr

    def forget(self, ns: str) -> None:
        """Close cached sockets for a guest namespace (it is going away)."""
        for key in [k for k in self._guests if k[0] == ns]:
            self._guests.pop(key).close()

    def close(self) -> None:
        """Close every socket (each closes its asyncio loop), even when one of them fails."""
        sockets = [*self._guests.values(), *([self._host] if self._host is not None else [])]
        self._guests.clear()
        self._host = None
        errors = []
        for ipr in sockets:
            try:
                ipr.close()
            except Exception as exc:  # keep closing the others; report the first
                errors.append(exc)
        if errors:
            raise errors[0]

    # -- links -------------------------------------------------------------------------
    def link(self, name: str, ns: str | None = None) -> LinkInfo | None:
        msg = self._link_msg(ns, ifname=name)
        return None if msg is None else _link_info(msg)

    def link_by_index(self, index: int, ns: str | None = None) -> LinkInfo | None:
        msg = self._link_msg(ns, index=index)
        return None if msg is None else _link_info(msg)

    def _link_msg(self, ns: str | None, **which: Any) -> Any:
        """The kernel's answer for one link (`ifname=` or `index=`); None when there is none."""
        try:
            return self.sock(ns).link("get", **which)[0]
        except NetlinkError as exc:
            if exc.code == errno.ENODEV:
                return None
            raise

    def links(self, ns: str | None = None) -> list[LinkInfo]:
        return [_link_info(m) for m in self.sock(ns).get_links()]

    def _index(self, name: str, ns: str | None = None) -> int:
        key = (self._ns_key(ns), name)
        hit = self._indices.get(key)
        if hit is not None and time.monotonic() - hit[1] < _INDEX_TTL:
            return hit[0]
        try:  # an ioctl in that namespace: microseconds, where a netlink read decodes the whole link
            with inside(ns or self.netns_path):
                index = socket.if_nametoindex(name)
        except OSError:
            raise NotFound(what="interface", name=name, fix="check the name with 'ip link'") from None
        self._indices[key] = (index, time.monotonic())
        return index

    def hwaddr(self, name: str, ns: str | None = None) -> tuple[str, int] | None:
        """(MAC, MTU) of a link by two ioctls (no netlink decode); None when it is absent."""
        request = struct.pack("16s16x", name.encode())
        with inside(ns or self.netns_path):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # it answers for the netns it was made in
        try:
            mac = fcntl.ioctl(sock, _SIOCGIFHWADDR, request)[18:24]
            mtu = struct.unpack_from("i", fcntl.ioctl(sock, _SIOCGIFMTU, request), 16)[0]
        except OSError:
            return None
        finally:
            sock.close()
        return ":".join(f"{b:02x}" for b in mac), int(mtu)

    def _ns_key(self, ns: str | None) -> str | None:
        return None if ns is None else f"{ns}@{netns_id(ns)}"

    def _forget_index(self, name: str, ns: str | None) -> None:
        self._indices.pop((self._ns_key(ns), name), None)

    def _by_index(self, name: str, ns: str | None, call: Any) -> Any:
        """Run call(index); on ENODEV (a stale cached index) look the name up once more."""
        try:
            return call(self._index(name, ns))
        except NetlinkError as exc:
            if exc.code != errno.ENODEV:
                raise
            self._forget_index(name, ns)
            return call(self._index(name, ns))

    def _set(self, name: str, ns: str | None, **attrs: Any) -> None:
        """One RTM_NEWLINK by name: the kernel finds the link, no lookup round trip."""
        try:
            self.sock(ns).link("set", ifname=name, **attrs)
        except NetlinkError as exc:
            if exc.code == errno.ENODEV:
                raise NotFound(what="interface", name=name, fix="check the name with 'ip link'") from None
            raise

    def create_veth(
        self, host_name: str, peer_name: str, peer_ns: str | None, *, mtu: int | None, peer_mac: str | None,
        master: str | None = None, up: bool = False,
    ) -> None:
        # The peer is born inside the guest with its final name, so no temporary name can
        # collide and no second move is needed; the host end is born enslaved and up (the
        # kernel takes IFLA_MASTER and the flags at creation), saving two round trips.
        peer: dict[str, Any] = {"ifname": peer_name}
        if peer_mac:
            peer["address"] = peer_mac
        if mtu:
            peer["mtu"] = mtu
        extra: dict[str, Any] = {"mtu": mtu} if mtu else {}
        if master:
            extra["master"] = self._index(master)
        if up:
            extra["state"] = "up"
        fd = open_netns(peer_ns) if peer_ns else None
        try:
            if fd is not None:
                peer["net_ns_fd"] = fd
            try:
                self._create_raw(host_name, kind="veth", peer=peer, **extra)
            except NetlinkError as exc:
                if not master or exc.code not in (errno.EINVAL, errno.ENODEV):
                    raise _create_error(host_name, "veth", exc) from None
                # The cached index of the bridge may be stale (another session or process
                # replaced the bridge since): the kernel says EINVAL. Look it up once more.
                self._forget_index(master, None)
                extra["master"] = self._index(master)
                self._create(host_name, kind="veth", peer=peer, **extra)
        finally:
            if fd is not None:
                os.close(fd)

    def create_bridge(self, name: str, *, mtu: int | None, vlan_filtering: bool) -> None:
        extra: dict[str, Any] = {"mtu": mtu} if mtu else {}
        self._create(name, kind="bridge", **extra)
        if vlan_filtering:
            try:
                self.sock().link("set", index=self._index(name), kind="bridge", br_vlan_filtering=1)
            except NetlinkError as exc:
                self.sock().link("del", index=self._index(name))
                if exc.code == errno.EOPNOTSUPP:
                    raise Unsupported(
                        feature="VLAN filtering on Linux bridges",
                        why="this kernel was built without CONFIG_BRIDGE_VLAN_FILTERING; "
                        "use an Open vSwitch bridge (name it ovs*) for VLAN tags",
                    ) from None
                raise

    def create_macvlan(
        self, parent: str, name: str, ns: str | None, *, mode: str, mac: str | None, mtu: int | None
    ) -> None:
        extra: dict[str, Any] = {"macvlan_mode": mode}
        if mac:
            extra["address"] = mac
        if mtu:
            extra["mtu"] = mtu
        fd = open_netns(ns) if ns else None
        try:
            if fd is not None:
                extra["net_ns_fd"] = fd
            self._create(name, kind="macvlan", link=self._index(parent), **extra)
        finally:
            if fd is not None:
                os.close(fd)

    def create_vlan(self, parent: str, name: str, vid: int) -> None:
        self._create(name, kind="vlan", link=self._index(parent), vlan_id=vid)

    def _create(self, name: str, **kwargs: Any) -> None:
        try:
            self._create_raw(name, **kwargs)
        except NetlinkError as exc:
            raise _create_error(name, str(kwargs.get("kind")), exc) from None

    def _create_raw(self, name: str, **kwargs: Any) -> None:
        self.sock().link("add", ifname=name, **kwargs)

    def delete_link(self, name: str, ns: str | None = None, *, owner: str | None = None) -> bool:
        info = self.link(name, ns)
        if info is None:
            return False
        if owner is not None and owner_of(info.alias) != owner:
            return False  # not ours (or no longer ours): never delete what another made
        self._forget_index(name, ns)
        try:
            self.sock(ns).link("del", index=info.index)
        except NetlinkError as exc:
            if exc.code == errno.ENODEV:
                return False
            raise
        return True

    def move_link(self, name: str, ns: str | None, to_ns: str | None, new_name: str) -> None:
        """Move a link from namespace `ns` to `to_ns` (None: this host's), renaming it on the way."""
        target = to_ns or self.netns_path or "/proc/self/ns/net"
        fd = open_netns(target)
        try:
            self._forget_index(name, ns)
            self.sock(ns).link("set", index=self._index(name, ns), net_ns_fd=fd, ifname=new_name)
        finally:
            os.close(fd)

    def set_alias(self, name: str, alias: str, ns: str | None = None, *, up: bool = False) -> None:
        self._set(name, ns, ifalias=alias, **({"state": "up"} if up else {}))

    def set_master(self, name: str, master: str | None, ns: str | None = None) -> None:
        if master is None:
            self._set(name, ns, master=0)
            return

        def enslave(index: int) -> None:
            self.sock(ns).link("set", ifname=name, master=index)

        self._by_index(master, ns, enslave)

    def set_up(self, name: str, ns: str | None = None, up: bool = True) -> None:
        self._set(name, ns, state="up" if up else "down")

    def set_mtu(self, name: str, mtu: int, ns: str | None = None) -> None:
        self._set(name, ns, mtu=mtu)


def _link_info(msg: Any) -> LinkInfo:
    kind = msg.get(("linkinfo", "kind")) or ""
    vlan_filtering = stp = False
    if kind == "bridge":
        vlan_filtering = bool(msg.get(("linkinfo", "data", "br_vlan_filtering")) or 0)
        stp = bool(msg.get(("linkinfo", "data", "br_stp_state")) or 0)
    return LinkInfo(
        index=msg["index"],
        name=msg.get_attr("IFLA_IFNAME"),
        kind=kind,
        mtu=msg.get_attr("IFLA_MTU") or 0,
        mac=msg.get_attr("IFLA_ADDRESS") or "",
        up=bool(msg["flags"] & 1),
        alias=msg.get_attr("IFLA_IFALIAS") or "",
        master=msg.get_attr("IFLA_MASTER") or 0,
        vlan_filtering=vlan_filtering,
        link_index=msg.get_attr("IFLA_LINK") or 0,
        stp=stp,
        operstate=str(msg.get_attr("IFLA_OPERSTATE") or "").lower(),
    )


def _create_error(name: str, kind: str, exc: NetlinkError) -> Exception:
    if exc.code == errno.EEXIST:
        return Conflict(f"interface {name!r} already exists; pick another name or remove it first")
    if exc.code in (errno.EOPNOTSUPP, errno.ENOTSUP) or (exc.code == errno.EINVAL and kind in ("vlan", "gretap", "dummy")):
        return Unsupported(feature=f"{kind} interfaces", why=f"the kernel refused to create {name!r} ({exc.args[-1]})")
    return Exception(f"cannot create {kind} interface {name!r}: {exc}")

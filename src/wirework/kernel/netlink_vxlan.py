"""Netlink adapter, VXLAN part: devices, forwarding-database and neighbour entries."""

from __future__ import annotations

import errno
import socket
from typing import Any

from wirework.kernel.netlink_core import LinkCore
from wirework.kernel.netlink_lib import NetlinkError
from wirework.model.host import FdbEntry, NeighInfo, VxlanInfo

_NUD_PERMANENT = 0x80


class VxlanOps(LinkCore):
    def create_vxlan(
        self, name: str, *, vni: int, local: str, port: int, learning: bool, underlay: str | None, mtu: int | None,
        mac: str | None = None,
    ) -> None:
        key = "vxlan_local6" if ":" in local else "vxlan_local"
        extra: dict[str, Any] = {"vxlan_id": vni, key: local, "vxlan_port": port, "vxlan_learning": int(learning)}
        if underlay:
            extra["vxlan_link"] = self._index(underlay)
        if mtu:
            extra["mtu"] = mtu
        if mac:
            extra["address"] = mac
        self._create(name, kind="vxlan", **extra)

    def vxlan(self, name: str) -> VxlanInfo | None:
        msg = self._link_msg(None, ifname=name)
        if msg is None or msg.get(("linkinfo", "kind")) != "vxlan":
            return None

        def data(key: str) -> Any:
            return msg.get(("linkinfo", "data", key))

        return VxlanInfo(int(data("vxlan_id") or 0), str(data("vxlan_local") or data("vxlan_local6") or ""),
                         int(data("vxlan_port") or 0), bool(data("vxlan_learning")), int(data("vxlan_link") or 0))

    # -- forwarding database and neighbours (VXLAN peers) --------------------------------
    def fdb(self, dev: str) -> list[FdbEntry]:
        info = self.link(dev)
        if info is None:
            return []
        msgs = self.sock().get_neighbours(family=socket.AF_BRIDGE, ifindex=info.index)
        return [FdbEntry(str(m.get_attr("NDA_LLADDR")), str(m.get_attr("NDA_DST"))) for m in msgs
                if m["ifindex"] == info.index and m.get_attr("NDA_DST")]

    def fdb_append(self, dev: str, mac: str, dst: str, *, check: bool = True) -> bool:
        """`bridge fdb append MAC dev DEV dst DST` (static, NTF_SELF); False if it was there.
        `check=False`: the caller knows it is not (a fresh device, a probed table): no dump."""
        if check and FdbEntry(mac, dst) in self.fdb(dev):
            return False
        self._by_index(dev, None, lambda index: self.sock().fdb("append", ifindex=index, lladdr=mac, dst=dst))
        return True

    def fdb_del(self, dev: str, mac: str, dst: str) -> bool:
        info = self.link(dev)
        if info is None or FdbEntry(mac, dst) not in self.fdb(dev):
            return False
        try:
            self.sock().fdb("del", ifindex=info.index, lladdr=mac, dst=dst)
        except NetlinkError as exc:
            if exc.code in (errno.ENOENT, errno.ENODEV):
                return False
            raise
        return True

    def neighbours(self, dev: str) -> list[NeighInfo]:
        info = self.link(dev)
        if info is None:
            return []
        return [NeighInfo(str(m.get_attr("NDA_DST")), str(m.get_attr("NDA_LLADDR") or ""), dev)
                for m in self.sock().get_neighbours(ifindex=info.index) if m["ifindex"] == info.index]

    def neigh_add(self, dev: str, ip: str, mac: str, *, check: bool = True) -> bool:
        """A permanent neighbour entry (`ip neigh replace IP lladdr MAC dev DEV nud permanent`);
        False if it was there. `check=False`: the caller knows it is not: no dump."""
        if check and any(n.ip == ip and n.mac == mac for n in self.neighbours(dev)):
            return False
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        self._by_index(dev, None, lambda index: self.sock().neigh(
            "replace", ifindex=index, dst=ip, lladdr=mac, family=family, state=_NUD_PERMANENT))
        return True

    def neigh_del(self, dev: str, ip: str) -> bool:
        info = self.link(dev)
        if info is None or not any(n.ip == ip for n in self.neighbours(dev)):
            return False
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        try:
            self.sock().neigh("del", ifindex=info.index, dst=ip, family=family)
        except NetlinkError as exc:
            if exc.code in (errno.ENOENT, errno.ENODEV):
                return False
            raise
        return True


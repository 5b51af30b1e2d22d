"""Where the ranges in use come from: routes, addresses, wirework/Docker/libvirt/CNI networks, DNS."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from wirework.model.host import AddrInfo, RouteInfo
from wirework.networks.network import Network, put_op
from wirework.networks.subnets.occupancy import probe_occupied
from wirework.store import open_store


class _Net:
    def routes(self, ns: str | None = None, *, table: int | None = None) -> list[RouteInfo]:
        return [RouteInfo("default", gateway="192.168.1.1", dev="eth0"),
                RouteInfo("10.8.0.0/16", gateway="10.0.0.1", dev="tun0", table=100),
                RouteInfo("10.9.0.0/24", dev="ww-mine"),
                RouteInfo("192.168.1.7/32", dev="eth0", table=255)]

    def addresses(self, ns: str | None = None, ifname: str | None = None) -> list[AddrInfo]:
        return [AddrInfo("eth0", "192.168.1.7/24"), AddrInfo("eth0", "fe80::1/64")]


class _Docker:
    def available(self) -> bool:
        return True

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        assert (method, path) == ("GET", "/networks")
        return 200, [{"Name": "bridge", "IPAM": {"Config": [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}]}},
                     {"Name": "host", "IPAM": {"Config": []}}]


def test_every_source_with_its_reason(tmp_path: Path) -> None:
    (tmp_path / "etc/libvirt/qemu/networks").mkdir(parents=True)
    (tmp_path / "etc/libvirt/qemu/networks/default.xml").write_text(
        "<network><name>default</name><ip address='192.168.122.1' netmask='255.255.255.0'/></network>")
    (tmp_path / "etc/cni/net.d").mkdir(parents=True)
    (tmp_path / "etc/cni/net.d/87-podman.conflist").write_text(
        '{"name": "podman", "plugins": [{"ipam": {"ranges": [[{"subnet": "10.88.0.0/16"}]]}}]}')
    (tmp_path / "etc/resolv.conf").write_text("# x\nnameserver 10.53.0.2\nnameserver ::1\n")
    store = open_store("memory")
    store.txn([], [put_op(Network("other", "-", "ww-other", "10.50.0.0/24", "10.50.0.1"))])
    host: Any = SimpleNamespace(net=_Net())
    found = probe_occupied(host, store, "-", _Docker(), root=str(tmp_path), exclude_bridge="ww-mine")  # type: ignore[arg-type]
    assert [(o.network, o.reason) for o in found] == [
        ("10.8.0.0/16", "route 10.8.0.0/16 via 10.0.0.1 dev tun0 (table 100)"),
        ("192.168.1.0/24", "address 192.168.1.7/24 on eth0"),
        ("10.50.0.0/24", "wirework network other (10.50.0.0/24)"),
        ("172.17.0.0/16", "Docker network bridge (172.17.0.0/16)"),
        ("192.168.122.0/24", f"libvirt network default (192.168.122.0/24, {tmp_path}/etc/libvirt/qemu/networks/default.xml)"),
        ("10.88.0.0/16", f"CNI network podman (10.88.0.0/16, {tmp_path}/etc/cni/net.d/87-podman.conflist)"),
        ("10.53.0.2/32", f"DNS server 10.53.0.2 ({tmp_path}/etc/resolv.conf)"),
    ]

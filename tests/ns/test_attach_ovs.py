"""pipework onto Open vSwitch bridges (userspace datapath here), in a host with a private OVS."""

from __future__ import annotations

import subprocess

from tests.conftest import Namespaces, ping, sh, tcp_transfer, wirework_cli
from wirework.api import Wirework
from wirework.kernel.ovs_instance import OvsInstance


def vsctl(inst: OvsInstance, *args: str) -> str:
    return subprocess.run(["ovs-vsctl", f"--db=unix:{inst.db_socket}", *args], capture_output=True, text=True,
                          check=True, timeout=20).stdout


def test_ovs_bridge_created_with_vlan_tags_and_removed(ovs_host: tuple[str, OvsInstance], netns: Namespaces,
                                                       state_dir: str) -> None:
    host, inst = ovs_host
    g1, g2, g3 = netns("g1"), netns("g2"), netns("g3")
    with Wirework(netns=host, state_dir=state_dir, ovs_db=inst.db_socket) as ww:
        a = ww.attach(g1, "ovsbr0", ip="10.8.0.1/24", vlan="10")
        ww.attach(g2, "ovsbr0", ip="10.8.0.2/24", vlan="10")
        ww.attach(g3, "ovsbr0", ip="10.8.0.3/24", vlan="20")
        assert vsctl(inst, "get", "bridge", "ovsbr0", "datapath_type").strip() == "netdev"
        assert vsctl(inst, "get", "port", a.attachment.host_ifname, "tag").strip() == "10"
        assert "wirework-owner" in vsctl(inst, "get", "port", a.attachment.host_ifname, "external_ids")
        assert ping(g1, "10.8.0.2")
        assert not ping(g1, "10.8.0.3")  # another VLAN
        assert "tx-checksumming: off" in sh("ethtool", "-k", "eth1", ns=g1)
        assert tcp_transfer(g2, g1, "10.8.0.2")
        for g in (g1, g2, g3):
            ww.detach(g)
        assert "ovsbr0" not in vsctl(inst, "list-br")


def test_guest_gone_leaves_no_ovs_port_after_gc(ovs_host: tuple[str, OvsInstance], netns: Namespaces,
                                                 state_dir: str) -> None:
    host, inst = ovs_host
    vsctl(inst, "add-br", "ovsmine", "--", "set", "bridge", "ovsmine", "datapath_type=netdev")
    g1 = netns("g1")
    env = {"WIREWORK_STATE_DIR": state_dir, "WIREWORK_OVS_DB": inst.db_socket}
    wirework_cli("pipework", "ovsmine", g1, "10.9.0.1/24", "--netns", host, env=env)
    port = vsctl(inst, "list-ports", "ovsmine").split()
    assert len(port) == 1
    sh("ip", "netns", "del", g1)  # the container is removed: its veth goes, the OVS port stays
    assert vsctl(inst, "list-ports", "ovsmine").split() == port
    out = wirework_cli("ls", "--netns", host, env=env).stdout
    assert "guest-gone" in out
    wirework_cli("gc", "--netns", host, env=env)
    assert vsctl(inst, "list-ports", "ovsmine").split() == []
    assert "ovsmine" in vsctl(inst, "list-br")  # not ours: stays


def test_gc_keeps_the_record_until_the_teardown_succeeded(ovs_host: tuple[str, OvsInstance], netns: Namespaces,
                                                          state_dir: str) -> None:
    """OVS unreachable during gc: the port cannot go, so neither may the record that names it;
    a later gc (OVS back) removes both."""
    import pytest

    from wirework.errors import StepFailed
    from wirework.kernel.ovs_instance import start_instance

    host, inst = ovs_host
    vsctl(inst, "add-br", "ovsmine", "--", "set", "bridge", "ovsmine", "datapath_type=netdev")
    g1 = netns("g1")
    with Wirework(netns=host, state_dir=state_dir, ovs_db=inst.db_socket) as ww:
        ww.attach(g1, "ovsmine", ip="10.9.0.1/24")
    sh("ip", "netns", "del", g1)
    inst.stop()
    with Wirework(netns=host, state_dir=state_dir, ovs_db=inst.db_socket) as ww:
        with pytest.raises(StepFailed, match="record is kept"):
            ww.gc()
        assert [s.state for s in ww.ls()] == ["guest-gone"]
    start_instance(host, inst.rundir)
    with Wirework(netns=host, state_dir=state_dir, ovs_db=inst.db_socket) as ww:
        assert len(ww.gc()) == 1
        assert ww.ls() == [] and vsctl(inst, "list-ports", "ovsmine").split() == []

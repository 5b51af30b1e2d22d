"""`wirework bridges` (S4's `brctl show`, and more): every bridge of a host, whoever made it."""

from __future__ import annotations

import json
import subprocess

from tests.conftest import Namespaces, sh
from tests.ns.helpers import WIREWORK
from wirework.api import Wirework
from wirework.kernel.ovs_instance import OvsInstance


def test_bridges_lists_every_kind_with_who_made_it(ovs_host: tuple[str, OvsInstance], netns: Namespaces,
                                                   state_dir: str) -> None:
    host, inst = ovs_host
    g1, g2, g3 = netns("g1"), netns("g2"), netns("g3")
    # By hand: a bridge with an address and a port nobody records. (This kernel refuses STP in a
    # namespace other than the machine's own, and VLAN filtering: STP is shown on the OVS bridge.)
    sh("ip", "link", "add", "brhand", "type", "bridge", ns=host)
    sh("ip", "addr", "add", "10.5.0.1/24", "dev", "brhand", ns=host)
    sh("ip", "link", "add", "vhand", "type", "veth", "peer", "name", "vhandp", ns=host)
    sh("ip", "link", "set", "vhand", "master", "brhand", ns=host)
    sh("ip", "link", "set", "brhand", "mtu", "1400", "up", ns=host)
    with Wirework(netns=host, state_dir=state_dir, ovs_db=inst.db_socket) as ww:
        att = ww.attach(g1, "br0", ip="10.6.0.2/24").attachment  # pipework's bridge, made on the way
        ww.network_create("web", subnet="10.7.0.0/24")
        ep = ww.connect("web", g2).endpoint
        ovs = ww.attach(g3, "ovsbr1", ip="10.8.0.2/24").attachment
        subprocess.run(["ovs-vsctl", f"--db=unix:{inst.db_socket}", "set", "bridge", "ovsbr1", "stp_enable=true"],
                       check=True, timeout=20)
        web_port = next(a.host_ifname for a in (s.attachment for s in ww.ls()) if a.id == ep.att_id)
        rows = {b["name"]: b for b in ww.bridges()}
    env = {"WIREWORK_OVS_DB": inst.db_socket, "WIREWORK_NO_SERVICE": "1", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    done = subprocess.run([*WIREWORK, "bridges", "--json", "--netns", host, "--state-dir", state_dir],
                          capture_output=True, text=True, env=env, timeout=60, check=True)
    assert {b["name"]: b for b in json.loads(done.stdout)} == rows
    assert set(rows) == {"brhand", "br0", "ww-web", "ovsbr1"}
    hand, br0, web, obr = rows["brhand"], rows["br0"], rows["ww-web"], rows["ovsbr1"]
    assert (hand["kind"], hand["made_by"], hand["addresses"], hand["stp"], hand["vlan_filtering"], hand["mtu"]) == (
        "linux", "unknown", ["10.5.0.1/24"], False, False, 1400)
    assert hand["ports"] == [{"name": "vhand", "guest": None}] and hand["state"] == "down"  # no carrier on vhand
    assert (br0["kind"], br0["made_by"], br0["stp"], br0["vlan_filtering"]) == (
        "linux", "wirework attach (pipework)", False, False)
    assert br0["ports"] == [{"name": att.host_ifname, "guest": f"{g1} eth1"}]
    assert (web["made_by"], web["addresses"]) == ("wirework network web", ["10.7.0.1/24"])
    assert web["ports"] == [{"name": web_port, "guest": f"{g2} eth0"}] and web["state"] == "up"
    assert (obr["kind"], obr["made_by"], obr["stp"]) == ("ovs", "wirework attach (pipework)", True)
    assert obr["ports"] == [{"name": ovs.host_ifname, "guest": f"{g3} eth1"}]
    table = subprocess.run([*WIREWORK, "bridges", "--netns", host, "--state-dir", state_dir], capture_output=True,
                           text=True, env=env, timeout=60, check=True).stdout
    header, *lines = table.splitlines()
    assert header.split() == ["NAME", "KIND", "MADE-BY", "ADDRESSES", "PORTS", "STP", "VLAN-FILTERING", "MTU", "STATE"]
    assert any(line.startswith("brhand ") and "vhand" in line and "10.5.0.1/24" in line for line in lines)

"""The data planes' pure planners: what a joining, leaving or changed peer adds and removes."""

from __future__ import annotations

import pytest

from wirework.cluster.dataplane import hostgw, ovs, vxlan
from wirework.cluster.dataplane.base import ROUTE_PROTO, Local, device_name, mtu_for
from wirework.cluster.model import HostSubnet, validate_cluster_network
from wirework.errors import Conflict
from wirework.model.host import FdbEntry, LinkInfo, NeighInfo, RouteInfo, VxlanInfo
from wirework.naming import tag

NET = validate_cluster_network("blue", driver="vxlan", subnet="10.244.0.0/16", vni=7)
ME = HostSubnet("blue", "10.244.1.0/24", "h1", "192.168.0.1", vxlan.vtep_mac("h1", "blue"))
P2 = HostSubnet("blue", "10.244.2.0/24", "h2", "192.168.0.2", vxlan.vtep_mac("h2", "blue"))
P3 = HostSubnet("blue", "10.244.3.0/24", "h3", "192.168.0.3", vxlan.vtep_mac("h3", "blue"))
LOCAL = Local(NET, ME, "ww-blue", 1450, "eth0")


def texts(steps: list[object]) -> list[str]:
    return [s.describe() for s in steps]  # type: ignore[attr-defined]


def existing(peers: list[HostSubnet]) -> vxlan.VxlanFacts:
    link = LinkInfo(9, "wwx-blue", "vxlan", 1450, ME.vtep_mac, True, tag("cnet:blue"))
    routes = tuple(RouteInfo(p.subnet, p.vtep_ip, "wwx-blue", proto=ROUTE_PROTO, onlink=True) for p in peers)
    return vxlan.VxlanFacts(link, VxlanInfo(7, "192.168.0.1", 4789, False, 2), ("10.244.1.0/32",),
                            tuple(FdbEntry(p.vtep_mac, p.public_ip) for p in peers),
                            tuple(NeighInfo(p.vtep_ip, p.vtep_mac, "wwx-blue") for p in peers), routes)


def test_vxlan_fresh_device_gets_every_peer_and_no_flooding() -> None:
    planned = vxlan.plan(LOCAL, [P2, P3, ME], vxlan.VxlanFacts(None, None, (), (), (), ()))
    steps = texts(planned.steps)
    assert steps[0].startswith("create VXLAN device wwx-blue (VNI 7, local 192.168.0.1, UDP 4789, learning off, MTU 1450")
    assert "add address 10.244.1.0/32 to wwx-blue" in steps
    assert f"add permanent neighbour 10.244.2.0 at {P2.vtep_mac} on wwx-blue" in steps
    assert f"send frames for {P3.vtep_mac} on wwx-blue to peer 192.168.0.3" in steps
    assert "add route 10.244.3.0/24 via 10.244.3.0 dev wwx-blue onlink proto 87" in steps
    assert not any("00:00:00:00:00:00" in s or "flood" in s for s in steps) and planned.problems == []


def test_vxlan_in_line_plans_nothing_and_a_leaving_peer_takes_only_its_entries() -> None:
    assert vxlan.plan(LOCAL, [P2, P3], existing([P2, P3])).steps == []
    steps = texts(vxlan.plan(LOCAL, [P2], existing([P2, P3])).steps)
    assert steps == ["remove route 10.244.3.0/24 via 10.244.3.0 dev wwx-blue onlink proto 87",
                     "remove neighbour 10.244.3.0 from wwx-blue",
                     f"remove FDB entry {P3.vtep_mac} -> 192.168.0.3 from wwx-blue"]


def test_vxlan_moved_public_ip_recreates_the_device_and_a_foreign_one_is_refused() -> None:
    moved = Local(NET, HostSubnet("blue", ME.subnet, "h1", "192.168.0.9", ME.vtep_mac), "ww-blue", 1450, "eth0")
    steps = texts(vxlan.plan(moved, [P2], existing([P2])).steps)
    assert steps[0] == "delete wwx-blue (if tagged wirework:cnet:blue)"
    assert steps[1].startswith("create VXLAN device wwx-blue (VNI 7, local 192.168.0.9,")
    foreign = existing([])
    foreign = vxlan.VxlanFacts(LinkInfo(9, "wwx-blue", "vxlan", 1450, "", True, ""), *list(foreign.__dict__.values())[1:])
    with pytest.raises(Conflict, match="is not cluster network blue's VXLAN device"):
        vxlan.plan(LOCAL, [], foreign)


def test_hostgw_on_link_and_routed_peers() -> None:
    routes = [RouteInfo("192.168.0.0/24", dev="eth0", scope=253), RouteInfo("default", "192.168.0.254", "eth0")]
    assert hostgw.on_link(routes, "192.168.0.2") is None
    assert hostgw.on_link(routes, "10.1.1.1") == "the route to 10.1.1.1 goes via the router 192.168.0.254"
    assert hostgw.on_link(routes[:1], "10.1.1.1") == "this host has no route to 10.1.1.1"
    far = HostSubnet("blue", "10.244.4.0/24", "h4", "10.1.1.1")
    local = Local(validate_cluster_network("blue", driver="host-gw", subnet="10.244.0.0/16"), ME, "ww-blue", 1500, "eth0")
    planned = hostgw.plan(local, [P2, far], hostgw.HostGwFacts(tuple(routes)))
    assert texts(planned.steps) == ["add route 10.244.2.0/24 via 192.168.0.2 proto 87"]
    assert planned.problems == ["peer h4 (10.1.1.1) is not on-link: the route to 10.1.1.1 goes via the router "
                                "192.168.0.254; host-gw needs every host on one L2 segment (use --driver vxlan across "
                                "routers)"]


def test_ovs_mesh_adds_protected_ports_and_drops_a_leaving_peer() -> None:
    net = validate_cluster_network("blue", driver="ovs-gre", subnet="10.244.0.0/16")
    local = Local(net, ME, "ww-blue", 1462, "ul-eth0")
    port2, port3 = (ovs.tunnel_port("ovs-gre", "blue", p.public_ip) for p in (P2, P3))
    assert port2.startswith("grec0a80002") and len(port2) <= 15
    fresh = ovs.plan(local, [P2, P3], ovs.OvsFacts(True, "netdev", False, None, "", (), ()))
    steps = texts(fresh.steps)
    assert steps[:2] == ["create Open vSwitch bridge wwo-blue (datapath netdev)", "set MTU of wwo-blue to 1462"]
    assert f"add GRE tunnel port {port2} to 192.168.0.2 on Open vSwitch bridge wwo-blue" in steps
    assert "add route 10.244.3.0/24 via 10.244.3.1 dev ww-blue onlink proto 87" in steps
    link = LinkInfo(5, "wwo-blue", "openvswitch", 1462, "", True, "", master=4)
    have = ovs.OvsFacts(True, "netdev", True, link, "ww-blue", ((port2, "cnet:blue"), (port3, "cnet:blue"), ("x", "")),
                        tuple(RouteInfo(p.subnet, p.gateway, "ww-blue", proto=ROUTE_PROTO, onlink=True) for p in (P2, P3)))
    left = texts(ovs.plan(local, [P2], have).steps)
    assert left[0] == "remove route 10.244.3.0/24 via 10.244.3.1 dev ww-blue onlink proto 87"
    assert left[1:] == [f"remove port {port3} from Open vSwitch bridge wwo-blue"]  # the untagged port "x" stays


def test_names_and_mtus() -> None:
    assert device_name("wwx", "blue") == "wwx-blue"
    long = device_name("wwx", "a-very-long-network-name")
    assert len(long) <= 15 and long.startswith("wwx-avery-")
    assert mtu_for(NET, 1500, 50) == 1450
    with pytest.raises(Conflict, match="carries only 1450 inside vxlan"):
        mtu_for(validate_cluster_network("big", driver="vxlan", subnet="10.9.0.0/16", mtu=1500), 1500, 50)


def test_after_a_plan_ran_what_is_expected_plans_nothing() -> None:
    """`expect` is the host once the plan ran: planning from it again finds nothing to do, so the
    agent can plan the next change without probing the kernel."""
    after = vxlan.expect(LOCAL, [P2, P3], existing([P2]))
    assert after is not None and vxlan.plan(LOCAL, [P2, P3], after).steps == []
    assert texts(vxlan.plan(LOCAL, [P3], after).steps)[0] == "remove route 10.244.2.0/24 via 10.244.2.0 dev wwx-blue onlink proto 87"
    assert vxlan.expect(LOCAL, [P2], vxlan.VxlanFacts(None, None, (), (), (), ())) is None  # a new device: probe it
    gw = Local(validate_cluster_network("blue", driver="host-gw", subnet="10.244.0.0/16"), ME, "ww-blue", 1500, "eth0")
    facts = hostgw.HostGwFacts((RouteInfo("192.168.0.0/24", dev="eth0", scope=253),))
    assert hostgw.plan(gw, [P2, P3], hostgw.expect(gw, [P2, P3], facts)).steps == []
    net = validate_cluster_network("blue", driver="ovs-vxlan", subnet="10.244.0.0/16")
    local = Local(net, ME, "ww-blue", 1450, "ul-eth0")
    link = LinkInfo(5, "wwo-blue", "openvswitch", 1500, "", False, "", master=0)
    have = ovs.OvsFacts(True, "netdev", True, link, "", (("x", ""),), ())
    after_ovs = ovs.expect(local, [P2, P3], have)
    assert after_ovs is not None and ovs.plan(local, [P2, P3], after_ovs).steps == []

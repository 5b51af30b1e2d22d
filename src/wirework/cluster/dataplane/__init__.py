"""Data planes of cluster networks, looked up by driver name (an unknown name lists the known).

Each is a module-like `Dataplane`: `overhead(net)` for the MTU, `probe(host, local)` (read-only),
`plan(local, peers, facts)` (pure, diffing), `expect(local, peers, facts)` (pure: the facts once
that plan ran, so the next change needs no probe) and `teardown(local, facts)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wirework.cluster.dataplane import hostgw, ovs, vxlan
from wirework.cluster.dataplane.base import Local, Planned
from wirework.cluster.model import ClusterNetwork, HostSubnet
from wirework.errors import InvalidInput
from wirework.model.host import Host
from wirework.plan.steps import Step


@dataclass(frozen=True)
class Dataplane:
    name: str
    overhead: Callable[[ClusterNetwork], int]
    probe: Callable[[Host, Local], Any]
    plan: Callable[[Local, list[HostSubnet], Any], Planned]
    teardown: Callable[[Local, Any], list[Step]]
    #: the facts once the plan has run (None: the plan made something new, probe next time)
    expect: Callable[[Local, list[HostSubnet], Any], Any]


DATAPLANES = {
    "vxlan": Dataplane("vxlan", lambda net: vxlan.OVERHEAD, vxlan.probe, vxlan.plan, vxlan.teardown, vxlan.expect),
    "host-gw": Dataplane("host-gw", lambda net: hostgw.OVERHEAD, hostgw.probe, hostgw.plan, hostgw.teardown,
                         hostgw.expect),
    **{d: Dataplane(d, lambda net: ovs.overhead(net.driver, net.vni), ovs.probe, ovs.plan, ovs.teardown, ovs.expect)
       for d in ("ovs-vxlan", "ovs-gre")},
}


def get(driver: str) -> Dataplane:
    found = DATAPLANES.get(driver)
    if found is None:
        raise InvalidInput(what="driver", value=driver, why=f"known data planes: {', '.join(DATAPLANES)}")
    return found

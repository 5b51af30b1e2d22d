"""Names and places of everything a lab makes, derived from the lab's name (pure).

Every namespace is `wwl-<lab>-<host or guest>` (the switch namespace, which holds one Linux
bridge per segment, is `wwl-<lab>.sw`, a name no host can take); every link the lab creates
carries the alias `wirework:lab:<lab>`, and so does `lo` in each of its namespaces, so teardown
removes only what the lab tagged.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

from wirework.lab.model import Segment, Topology
from wirework.naming import short_hash

NS_PREFIX = "wwl-"
RUN_ROOT = "/run/wirework/lab"


@dataclass(frozen=True)
class LabNames:
    lab: str
    state_root: str  # the wirework state dir (--state-dir)
    run_root: str = RUN_ROOT

    @property
    def owner(self) -> str:
        return f"lab:{self.lab}"

    @property
    def prefix(self) -> str:
        return f"{NS_PREFIX}{self.lab}-"

    def ns(self, node: str) -> str:
        return self.prefix + node

    def ns_path(self, node: str) -> str:
        return "/run/netns/" + self.ns(node)

    @property
    def switch_ns(self) -> str:
        return f"{NS_PREFIX}{self.lab}.sw"

    @property
    def state_dir(self) -> str:
        return os.path.join(self.state_root, "labs", self.lab)

    def host_state(self, host: str) -> str:
        return os.path.join(self.state_dir, "hosts", host)

    @property
    def run_dir(self) -> str:
        return os.path.join(self.run_root, self.lab)

    def ovs_dir(self, host: str) -> str:
        return os.path.join(self.run_dir, "ovs", host)

    def ovs_socket(self, host: str) -> str:
        return os.path.join(self.ovs_dir(host), "db.sock")

    def pidfile(self, guest: str, index: int) -> str:
        return os.path.join(self.run_dir, f"{guest}.{index}.pid")

    def log(self, guest: str, index: int) -> str:
        return os.path.join(self.run_dir, f"{guest}.{index}.log")

    @staticmethod
    def seg_bridge(index: int, seg: Segment) -> str:
        return f"s{index}-{seg.name}"[:15]

    def port(self, seg: Segment, host: str) -> str:
        return "p" + short_hash(self.lab, seg.name, host, length=12)


def addresses_of(topo: Topology) -> dict[str, list[str]]:
    """Node name -> its IP addresses (no prefix), in declaration order: whom `check` pings."""
    from wirework.lab.checks import addresses

    out: dict[str, list[str]] = {}
    for owner, cidr, _ in addresses(topo):
        try:
            out.setdefault(owner, []).append(str(ipaddress.ip_interface(cidr).ip))
        except ValueError:
            continue
    return out


def node_ns(names: LabNames, topo: Topology, node: str) -> str:
    """The namespace path of a host or guest by name."""
    if node not in topo.hosts and node not in topo.guests:
        from wirework.errors import NotFound

        raise NotFound(what="lab host or guest", name=node, fix=f"lab {topo.name} has: "
                       + ", ".join([*topo.hosts, *topo.guests]))
    return names.ns_path(node)

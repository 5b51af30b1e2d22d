"""The lab as one plan: probe what exists (read-only), then plan what is missing (pure).

Order: namespaces (switch, hosts, guests), host sysctls, segments (a bridge in the switch
namespace, a veth per member with its address, MTU and rate), private OVS instances, the lab's
etcd, each host's `setup:` items in file order, guest attachments, guest programs. Creation steps are
left out for what already exists, and the rest are no-ops when in place, so a second `up`
converges. Teardown is planned from what the lab recorded plus what carries its tag.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from wirework.drivers.links import CreateBridge, CreateVeth, LinkUp, SetMaster
from wirework.drivers.namespaces import CreateNetns, DeleteNetns
from wirework.drivers.routes import AddAddress, AddRoute
from wirework.drivers.switch import RunProgram, SetSysctl
from wirework.lab import etcd as lab_etcd
from wirework.lab import kinds
from wirework.lab.etcd import StartEtcd, StopEtcd
from wirework.lab.model import GuestDef, Item, Segment, Topology
from wirework.lab.resolve import LabNames
from wirework.lab.steps import (
    HostSetup,
    StartOvs,
    StartProgram,
    StopOvs,
    StopProgram,
    VerifyNetns,
)
from wirework.model.host import RouteSpec
from wirework.plan.steps import Plan, Step


@dataclass(frozen=True)
class LabFacts:
    namespaces: frozenset[str] = frozenset()
    switch_links: frozenset[str] = frozenset()
    running: frozenset[str] = frozenset()  # pidfiles of live programs, rundirs of live OVS instances
    #: (host, cidr) of addresses found in host namespaces: a segment address that a setup item
    #: moved (an uplink onto a bridge) is not put back on the member interface on a second run
    addresses: frozenset[tuple[str, str]] = frozenset()
    routed: frozenset[str] = frozenset()  # hosts that have a default route (perhaps moved the same way)
    etcd_layout: str = ""  # the lab's etcd members (JSON), found running or about to be started
    etcd_running: bool = False


def _netns(names: LabNames, facts: LabFacts, name: str) -> Step:
    # Creation only for what is missing: after a crash, recovery runs the crash undo of every
    # planned step, and a converging run must not have planned to delete what was there.
    return VerifyNetns(name, names.owner) if name in facts.namespaces else CreateNetns(name, names.owner)


def plan_up(topo: Topology, names: LabNames, facts: LabFacts) -> Plan:
    steps: list[Step] = [_netns(names, facts, names.switch_ns)]
    steps += [_netns(names, facts, names.ns(node)) for node in [*topo.hosts, *topo.guests]]
    for host in topo.hosts.values():
        value = "1" if host.forwarding else "0"
        steps += [SetSysctl("net.ipv4.ip_forward", value, names.ns_path(host.name)),
                  SetSysctl("net.ipv6.conf.all.forwarding", value, names.ns_path(host.name))]
    for index, seg in enumerate(topo.segments):
        steps += _segment_steps(index, seg, names, facts)
    steps += [StartOvs(h.name, names.ns(h.name), names.ovs_dir(h.name)) for h in topo.hosts.values()
              if h.ovs and names.ovs_dir(h.name) not in facts.running]
    if topo.etcd is not None and not facts.etcd_running:
        steps.append(StartEtcd(topo.name, facts.etcd_layout))
    for host in topo.hosts.values():
        steps += [_setup(names, topo, host.name, item.kind, lab_etcd.with_store_url(_args(topo, item), facts.etcd_layout))
                  for item in host.setup]
    for guest in topo.guests.values():
        steps += _guest_steps(names, topo, guest, facts)
    return Plan("lab-up", names.owner, tuple(steps), (f"lab {topo.name} from {topo.path}",))


def _segment_steps(index: int, seg: Segment, names: LabNames, facts: LabFacts) -> list[Step]:
    bridge = names.seg_bridge(index, seg)
    steps: list[Step] = []
    if bridge not in facts.switch_links:
        steps.append(CreateBridge(bridge, names.owner, seg.mtu))
    steps.append(LinkUp(bridge))
    for m in seg.members:
        port, ns = names.port(seg, m.host), names.ns_path(m.host)
        if port not in facts.switch_links:
            steps.append(CreateVeth(port, m.ifname, ns, names.owner, seg.mtu))
        steps += [SetMaster(port, bridge), LinkUp(port), LinkUp(m.ifname, ns)]
        if (m.host, m.address) not in facts.addresses:
            steps.append(AddAddress(m.ifname, m.address, ns))
        if m.gateway and m.host not in facts.routed:
            steps.append(AddRoute(RouteSpec("default", gateway=m.gateway, dev=m.ifname), ns))
        if seg.rate:
            steps += [_tbf(port, seg.rate, None), _tbf(m.ifname, seg.rate, ns)]
    return steps


def _tbf(dev: str, rate: str, ns: str | None) -> Step:
    # tbf shapes egress: set on both ends of a member's veth, it limits both directions.
    return RunProgram(ns, ("tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", rate, "burst", "64kb",
                           "latency", "100ms"), ("tc", "qdisc", "del", "dev", dev, "root"))


def _args(topo: Topology, item: Item) -> dict[str, object]:
    """The item's arguments with names of other hosts resolved (a VXLAN peer's address)."""
    kind = kinds.KINDS.get(item.kind)
    return kind.resolve(topo, item) if kind is not None else item.args


def _setup(names: LabNames, topo: Topology, host: str, kind: str, args: dict[str, object]) -> HostSetup:
    ovs_db = names.ovs_socket(host) if topo.hosts[host].ovs else None
    return HostSetup(host, names.ns(host), names.host_state(host), ovs_db, kind,
                     json.dumps(args, sort_keys=True), names.owner)


def _guest_steps(names: LabNames, topo: Topology, guest: GuestDef, facts: LabFacts) -> list[Step]:
    steps: list[Step] = []
    for a in guest.attach:
        args = {"guest": f"netns:{names.ns(guest.name)}", "guest_name": guest.name, "bridge": a.bridge,
                "ifname": a.ifname, "ip": a.ip, "gateway": a.gateway, "mac": a.mac, "vlan": a.vlan, "mtu": a.mtu,
                "dhcp": a.dhcp or None}
        steps.append(_setup(names, topo, guest.host, "attach", {k: v for k, v in args.items() if v is not None}))
    for i, command in enumerate(guest.run):
        if names.pidfile(guest.name, i) in facts.running:
            continue
        steps.append(StartProgram(guest.name, names.ns_path(guest.name), tuple(_split(command)),
                                  names.pidfile(guest.name, i), names.log(guest.name, i)))
    return steps


def _split(command: str) -> list[str]:
    import shlex

    return shlex.split(command)


def plan_down(names: LabNames, recorded: list[Step], namespaces: list[str]) -> Plan:
    """Stop programs and OVS instances the lab started, then delete its tagged namespaces."""
    programs = {s.pidfile: s for s in recorded if isinstance(s, StopProgram)}
    ovs = {s.rundir: s for s in recorded if isinstance(s, StopOvs)}
    etcd = {s.root: s for s in recorded if isinstance(s, StopEtcd)}
    spaces = {s.name for s in recorded if isinstance(s, DeleteNetns)} | set(namespaces)
    # Hosts and guests first, the switch last: its veth ends go with the hosts.
    ordered = sorted(spaces, key=lambda n: (n == names.switch_ns, n))
    steps: list[Step] = [*programs.values(), *ovs.values(), *etcd.values(),
                         *(DeleteNetns(n, names.owner) for n in ordered)]
    return Plan("lab-down", names.owner, tuple(steps))

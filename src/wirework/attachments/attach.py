"""Attach and detach as plans: what pipework does, as ordered steps with inverses.

`probe_attach` reads the host (read-only) into AttachFacts; `plan_attach` is a pure function
of spec + facts, so the same plan is printed by --dry-run and run by the executor, and unit
tests check plans against a fake host.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from wirework.attachments.records import Attachment
from wirework.drivers.bridgeports import BridgeVlan
from wirework.drivers.dhcp import RunDhcpClient
from wirework.drivers.guestlinks import CreateMacvlan, CreateVlan, MoveLink, SetTxOffload
from wirework.drivers.links import CreateBridge, CreateVeth, DeleteLink, LinkUp
from wirework.drivers.routes import AddAddress, AddRoute, DelRoute
from wirework.drivers.switch import EnsureForwardAccept, OvsAddBridge, OvsAddPort, OvsDelBridge, RemoveForwardAccept
from wirework.errors import Conflict, InvalidInput, NotFound, Unsupported
from wirework.model.guest import Guest
from wirework.model.host import Host, LinkInfo, RouteSpec
from wirework.model.specs import AttachSpec
from wirework.naming import attachment_id, guest_mac, host_veth_name, owner_of
from wirework.plan.steps import Plan, Step

# Kinds of link that count as a NIC wirework may put macvlans on.
PHYSICAL_KINDS = ("", "veth", "vlan", "bond", "team")


@dataclass(frozen=True)
class AttachFacts:
    guest: Guest
    att_id: str
    host_if: str
    host_kind: str  # "bridge", "ovs", "physical", "new-bridge", "new-ovs"
    host_link: LinkInfo | None
    ovs_datapath: str
    guest_has_ifname: bool
    guest_default_route: RouteSpec | None
    used_ips: dict[str, str]  # ip -> who uses it on this host interface
    forward_blocked: bool
    #: Per-attempt part of the ownership tag: a teardown of an older wiring of the same guest
    #: interface (gc after a restart, racing a re-attach) never matches the new objects.
    nonce: str = ""
    in_host_netns: bool = False  # the "guest" is the host's own namespace
    vlan_parent_exists: bool = False  # IF.VLAN is already there (pipework reuses it)

    @property
    def owner(self) -> str:
        return f"att:{self.att_id}.{self.nonce}" if self.nonce else f"att:{self.att_id}"


def probe_attach(host: Host, spec: AttachSpec, guest: Guest, neighbours: list[Attachment], *,
                 host_ns_id: str | None = None) -> AttachFacts:
    """Everything planning needs to know about the host, read without changing anything."""
    host_if = spec.host_if or (host_if_by_mac(host, spec.host_mac) if spec.host_mac else "")
    link = host.net.link(host_if)
    kind, datapath = _host_kind(host, spec, host_if, link)
    used = {a.cidr.split("/")[0]: a.guest.name for a in neighbours
            if a.host_if == host_if and a.cidr}
    if spec.cidr and kind == "bridge":
        ip = spec.cidr.split("/")[0]
        if ip not in used and host.net.is_local_address(ip):
            used[ip] = f"the host itself (an address of {host_if} or another host interface)"
    guest_link = host.net.hwaddr(spec.cont_ifname, guest.netns_path)  # existence only: the cheap read
    default = None
    if spec.gateway:
        for r in host.net.routes(guest.netns_path, table=254):
            if r.dst == "default" and (":" in r.gateway) == (":" in spec.gateway):
                default = RouteSpec("default", gateway=r.gateway, dev=r.dev, metric=r.metric, proto=r.proto)
                break
    blocked = kind in ("bridge", "new-bridge") and host.netns is None and host.fw.forward_blocked() \
        and not host.fw.has_bridge_forward(host_if, f"bridge:{host_if}")
    vlan_parent = kind == "physical" and spec.vlan is not None and host.net.link(vlan_ifname(host_if, spec.vlan)) is not None
    return AttachFacts(
        guest=guest, att_id=attachment_id(guest.key, spec.cont_ifname), host_if=host_if, host_kind=kind,
        host_link=link, ovs_datapath=datapath, guest_has_ifname=guest_link is not None,
        guest_default_route=default, used_ips=used, forward_blocked=blocked,
        nonce=os.urandom(3).hex(), in_host_netns=host_ns_id is not None and host_ns_id == guest.netns_id,
        vlan_parent_exists=vlan_parent,
    )


def vlan_ifname(nic: str, vid: int) -> str:
    """pipework's IF.VLAN name; refused (not truncated) when it does not fit in 15 characters."""
    name = f"{nic}.{vid}"
    if len(name) > 15:
        raise InvalidInput(what="VLAN interface name", value=name,
                           why="it is longer than 15 characters; rename the NIC or use an OVS bridge")
    return name


def host_if_by_mac(host: Host, mac: str) -> str:
    """pipework's mac:<host-mac>: the interface with that MAC, a NIC before anything else."""
    matches = [link for link in host.net.links() if link.mac.lower() == mac]
    matches.sort(key=lambda link: (link.kind != "", link.master != 0, link.index))
    if matches:
        return matches[0].name
    raise NotFound(what="host interface with MAC", name=mac, fix="check the address with 'ip link'")


def _host_kind(host: Host, spec: AttachSpec, name: str, link: LinkInfo | None) -> tuple[str, str]:
    if link is not None and link.kind == "bridge":
        return "bridge", ""  # checked first: no OVSDB round trip for the common case
    if host.ovs.bridge_exists(name):
        return "ovs", host.ovs.bridge_datapath(name)
    if link is None:
        return _missing_kind(host, spec, name)
    if link.kind == "openvswitch":
        raise InvalidInput(what="host interface", value=name,
                           why="it is an Open vSwitch port, not a bridge; name the OVS bridge instead")
    if link.kind in PHYSICAL_KINDS:
        return "physical", ""
    raise InvalidInput(what="host interface", value=name,
                       why=f"it is a {link.kind} interface, neither a bridge nor a NIC; name a bridge or a NIC")


def _missing_kind(host: Host, spec: AttachSpec, name: str) -> tuple[str, str]:
    mode = spec.create
    if mode == "auto":
        mode = "ovs" if name.startswith("ovs") else "linux" if name.startswith("br") else "never"
    if mode == "never":
        raise NotFound(what="host interface", name=name,
                       fix="create it first, or name it br* (a Linux bridge) or ovs* (an Open vSwitch bridge) "
                           "to have it created")
    if mode == "linux":
        return "new-bridge", ""
    if not host.ovs.available():
        raise Unsupported(feature="Open vSwitch", why=f"cannot create bridge {name!r}: ovsdb-server is not running "
                          "(apt-get install openvswitch-switch; start ovs-vswitchd)")
    return "new-ovs", "system" if host.ovs.kernel_datapath_available() else "netdev"


def check_attach(spec: AttachSpec, facts: AttachFacts) -> None:
    """Refuse conflicts before planning; every message names the object and the fix."""
    if facts.guest_has_ifname:
        raise Conflict(f"interface {spec.cont_ifname!r} already exists in guest {facts.guest.name!r}; "
                       f"choose another name with -i/--ifname")
    if spec.cidr:
        ip = spec.cidr.split("/")[0]
        if ip in facts.used_ips:
            raise Conflict(f"address {ip} is already used on {facts.host_if} by {facts.used_ips[ip]}; pick another")
    if spec.direct and facts.host_kind != "physical":
        raise InvalidInput(what="--direct-phys interface", value=facts.host_if,
                           why="it must be an existing NIC of the host; name a physical interface")
    if spec.direct and (spec.vlan is not None or spec.mac):
        raise InvalidInput(what="--direct-phys", value=facts.host_if, why="takes no MAC or VLAN; the NIC keeps its own")
    if spec.vlan is not None and facts.host_kind == "bridge" and facts.host_link is not None \
            and not facts.host_link.vlan_filtering:
        raise InvalidInput(what="VLAN", value=str(spec.vlan),
                           why=f"Linux bridge {facts.host_if} has no VLAN filtering; enable it "
                               f"(ip link set {facts.host_if} type bridge vlan_filtering 1) or use an OVS bridge")
    if facts.guest.mode == "host" or facts.in_host_netns:
        raise InvalidInput(what="guest", value=facts.guest.name,
                           why="it shares the host's network namespace (--net=host, or a host process); "
                               "name a container or a namespace of its own")


def plan_attach(spec: AttachSpec, facts: AttachFacts) -> Plan:
    owner = facts.owner
    ns = facts.guest.netns_path
    steps: list[Step] = []
    notes: list[str] = []
    if spec.direct:
        steps.append(MoveLink(facts.host_if, None, facts.guest.netns_path, spec.cont_ifname, owner))
    elif facts.host_kind == "physical":
        steps += _plan_macvlan(spec, facts, owner)
    else:
        steps += _plan_veth(spec, facts, owner, notes)
    # Everything below happens on links this plan creates: deleting them undoes it all, so
    # those steps record no undo of their own (fresh=True) and skip their pre-checks.
    if facts.host_kind == "physical":
        steps.append(LinkUp(spec.cont_ifname, ns, fresh=True))  # a veth is born up; a macvlan is not
    if spec.dhcp:
        steps.append(RunDhcpClient(spec.cont_ifname, ns, spec.dhcp_client, spec.gateway is None, spec.dhcp_options))
    else:
        assert spec.cidr is not None
        steps.append(AddAddress(spec.cont_ifname, spec.cidr, ns, fresh=True))
    if spec.gateway:
        if facts.guest_default_route is not None:
            steps.append(DelRoute(facts.guest_default_route, ns))
        # When it replaces the guest's default route, its undo must run before that route is put
        # back (one default per table): then it records one, like any other step.
        replaced = facts.guest_default_route is not None
        steps.append(AddRoute(RouteSpec("default", gateway=spec.gateway, dev=spec.cont_ifname), ns, fresh=not replaced))
    lasting = tuple(i for i, step in enumerate(steps) if _builds_shared(step, facts.host_if))
    # A VLAN sub-interface of a NIC is shared by every macvlan on that VLAN, like a bridge.
    lasting += tuple(i for i, step in enumerate(steps) if isinstance(step, CreateVlan))
    return Plan("attach", owner, tuple(steps), tuple(notes), lasting)


def _builds_shared(step: Step, host_if: str) -> bool:
    """Bridges created on the way (pipework creates missing ones) and their FORWARD accept."""
    if isinstance(step, (CreateBridge, OvsAddBridge, EnsureForwardAccept)):
        return True
    return isinstance(step, LinkUp) and step.name == host_if and step.ns is None


def _plan_veth(spec: AttachSpec, facts: AttachFacts, owner: str, notes: list[str]) -> list[Step]:
    ns = facts.guest.netns_path
    host_name = spec.host_ifname or host_veth_name(facts.att_id)
    bridge_owner = f"bridge:{facts.host_if}"
    steps: list[Step] = []
    if facts.host_kind == "new-bridge":
        steps += [CreateBridge(facts.host_if, bridge_owner, spec.mtu, spec.vlan is not None), LinkUp(facts.host_if)]
    elif facts.host_kind == "new-ovs":
        steps += [OvsAddBridge(facts.host_if, facts.ovs_datapath, bridge_owner), LinkUp(facts.host_if)]
        notes.append(f"Open vSwitch bridge {facts.host_if} uses the {facts.ovs_datapath} datapath")
    mtu = spec.mtu or (facts.host_link.mtu if facts.host_link and facts.host_link.mtu != 1500 else None)
    ovs = facts.host_kind in ("ovs", "new-ovs")
    mac = spec.mac or guest_mac(facts.att_id)
    steps.append(CreateVeth(host_name, spec.cont_ifname, ns, owner, mtu, mac, None if ovs else facts.host_if, True))
    if ovs:
        steps.append(OvsAddPort(facts.host_if, host_name, owner, spec.vlan))
        if facts.ovs_datapath == "netdev":
            steps.append(SetTxOffload(spec.cont_ifname, ns, False, fresh=True))
    else:
        if spec.vlan is not None:
            steps.append(BridgeVlan(host_name, spec.vlan))
        if facts.forward_blocked:
            steps.append(EnsureForwardAccept(facts.host_if, bridge_owner))
            notes.append(f"iptables FORWARD policy is DROP (Docker): an accept rule for {facts.host_if} is added "
                         f"to DOCKER-USER, tagged wirework:{bridge_owner}")
    return steps


def _plan_macvlan(spec: AttachSpec, facts: AttachFacts, owner: str) -> list[Step]:
    parent = facts.host_if
    steps: list[Step] = []
    if spec.vlan is not None:
        parent = vlan_ifname(facts.host_if, spec.vlan)
        if not facts.vlan_parent_exists:
            steps.append(CreateVlan(facts.host_if, parent, spec.vlan, f"vlan:{parent}"))
    mac = spec.mac or guest_mac(facts.att_id)
    steps.append(CreateMacvlan(parent, spec.cont_ifname, facts.guest.netns_path, owner, "bridge", mac, spec.mtu))
    return steps


def plan_detach(att: Attachment, guest_netns_id: str | None, others_on_bridge: int, *, prune_bridge: bool = False) -> Plan:
    """The recorded undo steps, minus those inside a namespace that is no longer the guest's.

    `prune_bridge`: the bridge was created by wirework on the way and nothing else uses it
    (no other port, no address): remove it too, so the last detach leaves the host as it was.
    """
    steps: list[Step] = []
    stale_ns = guest_netns_id != att.guest.netns_id
    for step in att.undo_steps():
        ns = getattr(step, "ns", None) or getattr(step, "peer_ns", None)
        if stale_ns and ns == att.guest.netns_path:
            continue  # that namespace died (and its interfaces with it); the path may now be another's
        if isinstance(step, RemoveForwardAccept) and others_on_bridge:
            continue
        steps.append(step)
    if att.host_kind == "bridge" and att.host == "-" and not others_on_bridge:
        # Whichever attachment added the bridge's FORWARD accept, the last one out removes it.
        steps.append(RemoveForwardAccept(att.host_if, f"bridge:{att.host_if}"))
    if prune_bridge and att.host_kind == "bridge":
        steps.append(DeleteLink(att.host_if, None, f"bridge:{att.host_if}"))
    elif prune_bridge and att.host_kind == "ovs":
        steps.append(OvsDelBridge(att.host_if, f"bridge:{att.host_if}"))
    return Plan("detach", att.owner, tuple(steps))


def bridge_prunable(host: Host, att: Attachment, others_on_bridge: int) -> bool:
    """Whether the last detach may remove the bridge: wirework made it and it is now bare."""
    if others_on_bridge or att.host_kind not in ("bridge", "ovs"):
        return False
    owner = f"bridge:{att.host_if}"
    if att.host_kind == "ovs":
        return host.ovs.available() and host.ovs.bridge_owner(att.host_if) == owner and \
            set(host.ovs.ports(att.host_if)) <= {att.host_ifname}
    link = host.net.link(att.host_if)
    if link is None or owner_of(link.alias) != owner:
        return False
    if any(not a.cidr.startswith("fe80:") for a in host.net.addresses(ifname=att.host_if)):
        return False  # someone gave it an address: it is in use beyond wirework's guests
    ports = [p for p in host.net.links() if p.master == link.index and p.name != att.host_ifname]
    return not ports


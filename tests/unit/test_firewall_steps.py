"""Firewall steps against the in-memory FakeNft: undo is exact, repeats change nothing, owners are checked."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from wirework.errors import Conflict, NotFound
from wirework.firewall.fake import FakeNft
from wirework.firewall.links import LinkNetworks, UnlinkNetworks
from wirework.firewall.model import NetworkRules, PortMapping
from wirework.firewall.ports import PublishPort, UnpublishPort
from wirework.firewall.steps import (
    AddNetworkRules,
    DeleteFirewallBase,
    EnsureFirewallBase,
    EnsureForwarding,
    RemoveBridgeAccept,
    RemoveNetworkRules,
)
from wirework.plan.executor import Executor, run_best_effort
from wirework.plan.steps import Plan, Step


class Fw:
    def __init__(self, blocked: bool) -> None:
        self.blocked, self.accepts = blocked, set[tuple[str, str]]()

    def forward_blocked(self) -> bool:
        return self.blocked

    def ensure_bridge_accept(self, bridge: str, owner: str) -> bool:
        added = (bridge, owner) not in self.accepts
        self.accepts.add((bridge, owner))
        return added

    def remove_bridge_accept(self, bridge: str, owner: str) -> bool:
        removed = (bridge, owner) in self.accepts
        self.accepts.discard((bridge, owner))
        return removed


class Sysctl:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, key: str, ns: str | None = None) -> str | None:
        return self.values.get(key)

    def set(self, key: str, value: str, ns: str | None = None) -> None:
        self.values[key] = value


class Host:
    netns = None

    def __init__(self, blocked: bool = False) -> None:
        self.nft, self.fw = FakeNft(), Fw(blocked)
        self.sysctl = Sysctl({"net.ipv4.ip_forward": "0", "net.ipv4.conf.wwa.route_localnet": "0",
                              "net.ipv4.conf.wwb.route_localnet": "0"})

    def state(self) -> Any:
        tables = {name: (sorted(map(repr, t.chains.items())), sorted((n, sorted(map(repr, e.items()))) for n, e in t.sets.items()))
                  for name, t in self.nft.tables.items()}
        return tables, sorted(self.fw.accepts), sorted(self.sysctl.values.items())


A = NetworkRules("a", "wwa", "10.88.0.0/24", "10.88.0.1", icc=False)
B = NetworkRules("b", "wwb", "10.89.0.0/24", "10.89.0.1")
PORT = PortMapping("a", "10.88.0.2", "tcp", 8080, 80, owner="att:1")


def run(host: Host, *steps: Step) -> list[Step]:
    return Executor(host).run(Plan("t", "t", steps))  # type: ignore[arg-type]


def test_everything_undone_exactly_and_repeats_change_nothing() -> None:
    host = Host(blocked=True)
    empty = host.state()
    steps = (EnsureForwarding(), EnsureFirewallBase(), AddNetworkRules(A), AddNetworkRules(B), LinkNetworks("a", "b"),
             PublishPort(PORT))
    undo = run(host, *steps)
    assert host.fw.accepts == {("wwa", "net:a"), ("wwb", "net:b")}
    assert host.sysctl.values["net.ipv4.conf.wwa.route_localnet"] == "1"
    full = host.state()
    assert run(host, *steps) == []
    assert host.state() == full
    assert run_best_effort(host, undo) == []  # type: ignore[arg-type]
    assert host.state() == empty


def test_failure_inside_add_network_leaves_nothing() -> None:
    host = Host()
    run(host, EnsureFirewallBase())
    before = host.state()
    with pytest.raises(NotFound, match="create the bridge before its firewall rules"):
        run(host, AddNetworkRules(replace(A, bridge="wwnone")))
    assert host.state() == before


def test_conflicts_say_what_holds_the_port() -> None:
    host = Host()
    run(host, EnsureFirewallBase(), AddNetworkRules(A), PublishPort(PORT))
    with pytest.raises(Conflict, match=r"host port 0.0.0.0:8080 is already published \(to 10.88.0.2\) for a guest "
                                       r"wirework has no record of; choose another host port"):
        run(host, PublishPort(replace(PORT, guest_port=81, owner="att:2")))
    with pytest.raises(Conflict, match=r"bridge wwa already has firewall rules \(wirework:net:a #"):
        run(host, AddNetworkRules(replace(A, icc=True)))


def test_removals_check_owner_and_return_their_inverse() -> None:
    host = Host()
    run(host, EnsureFirewallBase(), AddNetworkRules(A), AddNetworkRules(B), LinkNetworks("b", "a"), PublishPort(PORT))
    before = host.state()
    assert run(host, UnpublishPort(replace(PORT, guest_ip="10.88.0.9"))) == []  # published to another guest
    assert run(host, UnpublishPort(replace(PORT, guest_port=81))) == []
    # Not published at all: nothing changes; the undo would publish it (the caller's record).
    assert run(host, UnpublishPort(replace(PORT, host_port=9999))) == [PublishPort(replace(PORT, host_port=9999))]
    assert run(host, DeleteFirewallBase()) == []  # in use
    assert host.state() == before
    undo = run(host, RemoveNetworkRules(A), UnpublishPort(PORT))
    assert undo == [PublishPort(PORT), AddNetworkRules(A), LinkNetworks("a", "b", "wwa", "wwb")]
    assert host.nft.get_element("inet", "wirework", "from_net", '"wwa"') is None
    assert host.nft.get_element("inet", "wirework", "port_addr", "tcp . 8080") is None
    assert run(host, UnlinkNetworks("a", "b")) == []  # the link went with the network
    run(host, *undo)
    assert host.state() == before


def test_blocked_forward_policy_accepts_are_part_of_the_undo() -> None:
    host = Host(blocked=True)
    run(host, EnsureFirewallBase())
    undo = AddNetworkRules(A).apply(host)  # type: ignore[arg-type]
    assert undo[0] == RemoveBridgeAccept("wwa", "net:a") and undo[-1] == RemoveNetworkRules(A)


def test_link_needs_both_networks() -> None:
    host = Host()
    run(host, EnsureFirewallBase(), AddNetworkRules(A))
    with pytest.raises(NotFound, match="'b' not found; create the network first"):
        run(host, LinkNetworks("a", "b"))

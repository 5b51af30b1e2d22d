"""Rebuilding after `nft flush ruleset`, atomicity, rollback, idempotence, ownership, Docker coexistence."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.conftest import sh
from tests.ns.test_firewall_traffic import HOST_LAN, NEIGHBOUR, Lab, get, lab, probe
from wirework.errors import Conflict, NotFound, StepFailed
from wirework.firewall import render
from wirework.firewall.links import LinkNetworks
from wirework.firewall.model import PortMapping
from wirework.firewall.ports import PublishPort, UnpublishPort
from wirework.firewall.steps import AddNetworkRules, EnsureFirewallBase, EnsureForwarding, RemoveNetworkRules
from wirework.firewall.sync import apply_full_ruleset
from wirework.kernel.nft import Nft, NftRejected
from wirework.plan.executor import Executor
from wirework.plan.steps import Plan, Step

__all__ = ["lab"]  # the fixture, shared with the traffic tests


def ruleset(lab: Lab) -> str:
    return sh("nft", "list", "ruleset", ns=lab.h)


def test_flush_ruleset_then_full_ruleset_restores_everything(lab: Lab) -> None:
    a, b, c = lab.network("a", 88), lab.network("b", 89), lab.network("c", 91)
    (a1, ip_a), (_b1, ip_b), (c1, ip_c) = lab.guest(a, 1), lab.guest(b, 1), lab.guest(c, 1)
    port = PortMapping("a", ip_a, "tcp", 8080, 80, owner="att:a1")
    lab.run(EnsureFirewallBase(), AddNetworkRules(a), AddNetworkRules(b), AddNetworkRules(c),
            LinkNetworks("a", "b"), PublishPort(port))
    before = ruleset(lab)
    checks = [(lab.n, HOST_LAN, 8080, "/"), (a1, ip_b, 80, "/"), (a1, ip_c, 80, "/"), (c1, NEIGHBOUR, 80, "/cgi-bin/ip")]
    assert probe(checks) == ["a1", "b1", None, HOST_LAN]
    sh("nft", "flush", "ruleset", ns=lab.h)
    assert probe(checks[:1] + checks[2:]) == [None, "c1", None]  # no DNAT, no isolation, no NAT
    apply_full_ruleset(lab.host, [a, b, c], [("a", "b")], [port])
    assert probe(checks) == ["a1", "b1", None, HOST_LAN]
    apply_full_ruleset(lab.host, [a, b, c], [("a", "b")], [port])  # over existing tables: a replace
    assert ruleset(lab) == before


def test_a_batch_nft_rejects_applies_nothing(lab: Lab) -> None:
    a = lab.network("a", 88)
    lab.run(EnsureFirewallBase())
    before = ruleset(lab)
    bad_rule = {"add": {"rule": {"family": "inet", "table": "wirework", "chain": "forward",
                                 "expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "@nope"}},
                                          {"accept": None}]}}}
    with pytest.raises((NotFound, NftRejected)):
        lab.host.nft.run([*render.render_network(a), bad_rule])
    assert ruleset(lab) == before


def test_failure_mid_plan_rolls_back_rules_ports_and_sysctls(lab: Lab) -> None:
    a = lab.network("a", 88)
    _, ip1 = lab.guest(a, 1)
    sh("sysctl", "-qw", "net.ipv4.ip_forward=0", ns=lab.h)
    before = (ruleset(lab), sh("sysctl", "-n", f"net.ipv4.conf.{a.bridge}.route_localnet", ns=lab.h))
    steps: tuple[Step, ...] = (EnsureForwarding(), EnsureFirewallBase(), AddNetworkRules(a),
                               PublishPort(PortMapping("a", ip1, "tcp", 8080, 80)), LinkNetworks("a", "nowhere"))
    with pytest.raises(NotFound):
        Executor(lab.host).run(Plan("test", "test", steps))
    for fail_at in range(len(steps) - 1):
        def hook(index: int, step: Step, at: int = fail_at) -> None:
            if index == at:
                raise RuntimeError("injected")
        with pytest.raises(StepFailed):
            Executor(lab.host, fault=hook).run(Plan("test", "test", steps[: fail_at + 1]))
        assert (ruleset(lab), sh("sysctl", "-n", f"net.ipv4.conf.{a.bridge}.route_localnet", ns=lab.h)) == before
    assert sh("sysctl", "-n", "net.ipv4.ip_forward", ns=lab.h).strip() == "0"


def test_steps_are_idempotent_and_refuse_conflicts(lab: Lab) -> None:
    a = lab.network("a", 88)
    (_, ip1), (_, ip2) = lab.guest(a, 1), lab.guest(a, 2)
    port = PortMapping("a", ip1, "tcp", 8080, 80, owner="att:a1")
    first = lab.run(EnsureFirewallBase(), AddNetworkRules(a), PublishPort(port))
    assert len(first) >= 3
    before = ruleset(lab)
    assert lab.run(EnsureFirewallBase(), AddNetworkRules(a), PublishPort(port)) == []
    with pytest.raises(Conflict, match=r"already published \(to 10.88.0.2\) for a guest wirework has no record of"):
        lab.run(PublishPort(replace(port, guest_ip=ip2, owner="att:a2")))
    with pytest.raises(Conflict, match="differ"):
        lab.run(AddNetworkRules(replace(a, icc=False)))
    # Removal checks the target: another guest's stale record does not unpublish this one.
    assert lab.run(UnpublishPort(replace(port, guest_ip=ip2, owner="att:a2"))) == []
    assert lab.run(RemoveNetworkRules(replace(a, name="other"))) == []
    assert ruleset(lab) == before
    assert get(lab.n, HOST_LAN, 8080) == "a1"


def test_docker_style_forward_drop_gets_tagged_accepts(lab: Lab) -> None:
    h = lab.h
    sh("iptables", "-N", "DOCKER-USER", ns=h)
    sh("iptables", "-A", "FORWARD", "-j", "DOCKER-USER", ns=h)
    sh("iptables", "-P", "FORWARD", "DROP", ns=h)
    a, b = lab.network("a", 88), lab.network("b", 89)
    (a1, _), (_a2, ip_a2), (_b1, ip_b) = lab.guest(a, 1), lab.guest(a, 2), lab.guest(b, 1)
    assert probe([(a1, NEIGHBOUR, 80, "/"), (a1, ip_a2, 80, "/")]) == [None, None]  # Docker's DROP
    undo = lab.run(EnsureFirewallBase(), AddNetworkRules(a), AddNetworkRules(b))
    rules = sh("iptables", "-S", "DOCKER-USER", ns=h)
    assert '-A DOCKER-USER -o wbra -m comment --comment "wirework:net:a" -j ACCEPT' in rules
    assert '-A DOCKER-USER -i wbra -m comment --comment "wirework:net:a" -j ACCEPT' in rules
    assert probe([(a1, NEIGHBOUR, 80, "/"), (a1, ip_a2, 80, "/"), (a1, ip_b, 80, "/")]) == ["neighbour", "a2", None]
    Executor(lab.host).run(Plan("undo", "test", tuple(undo)))
    assert "wirework" not in sh("iptables", "-S", ns=h)


def test_nft_program_fallback_acts_inside_the_namespace(lab: Lab) -> None:
    root_before = sh("nft", "list", "tables")
    nft = Nft(lab.host.netns_path, use_library=False)
    assert nft.backend == "nft"
    nft.run(render.render_base() + render.render_port(PortMapping("a", "10.88.0.2", "tcp", 8080, 80, owner="att:x")))
    assert "table inet wirework" in sh("nft", "list", "tables", ns=lab.h)
    assert nft.get_element("inet", "wirework", "port_addr", "tcp . 8080") == ("10.88.0.2", "wirework:att:x")
    assert nft.get_element("inet", "wirework", "port_addr", "tcp . 8081") is None
    assert lab.host.nft.get_element("inet", "wirework", "port_port", "tcp . 8080") == ("80", "wirework:att:x")
    with pytest.raises(Conflict):
        nft.run(render.render_port(PortMapping("a", "10.88.0.3", "tcp", 8080, 80), "create"))
    assert sh("nft", "list", "tables") == root_before

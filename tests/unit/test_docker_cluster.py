"""Cluster networks through the Docker plugin, without Docker: options, the binding CreateNetwork
records, the definition checks against a shared store in memory, and the IPAM answers for a
cluster pool (this host's share only). Also the service's agent settings and status line."""

from __future__ import annotations

import time
from typing import Any

import pytest

from wirework.cluster import dockernets, registry
from wirework.cluster.model import validate_cluster_network
from wirework.context import HostContext
from wirework.errors import Conflict, InvalidInput, NotFound, Unsupported
from wirework.guests.docker import DockerClient
from wirework.model.guest import Guest
from wirework.networks import network as nets
from wirework.networks.docker import bindings, model, pools
from wirework.networks.docker import nets as dnets
from wirework.store import open_store
from wirework.testing import FakeHost, MemoryClusterStore

NID = "ab" * 32
SUBNET = "10.244.0.0/16"


@pytest.fixture
def ctx() -> HostContext:
    def no_guests(ref: str) -> Guest:
        raise NotFound(what="guest", name=ref)

    return HostContext(FakeHost(), "-", open_store("memory"), DockerClient("/nonexistent/docker.sock"), no_guests)


def _options(**generic: str) -> dict[str, object]:
    return {model.GENERIC: {"wirework.driver": "vxlan", **generic}}


def _create(ctx: HostContext, store: MemoryClusterStore, nid: str = NID, subnet: str = SUBNET,
            **generic: str) -> bindings.ClusterBinding:
    pools.request_pool(ctx, subnet, "", {}, False)
    return dockernets.create_network(ctx, store, nid, _options(**generic), [{"Pool": subnet, "Gateway": ""}], [])


def _materialise(ctx: HostContext, name: str, share: str = "10.244.7.0/24") -> nets.Network:
    """What the agent writes once it has built this host's part of the network."""
    net = nets.Network(name=name, host="-", bridge=nets.bridge_name(name), subnet=share,
                       gateway=share.replace(".0/24", ".1"), mtu=1450, driver="vxlan", cluster_cidr=SUBNET)
    ctx.store.put(nets.net_key("-", name), net.to_dict())
    return net


def test_cluster_options_are_checked_for_the_kind_of_network() -> None:
    opts = model.parse_network_options(_options(**{"wirework.host-subnet-len": "26", "wirework.vni": "77"}))
    assert opts.is_cluster and dict(opts.cluster) == {"host_subnet_len": "26", "vni": "77"}
    with pytest.raises(InvalidInput, match="option wirework.bridge.*cluster network"):
        model.parse_network_options(_options(**{"wirework.bridge": "br9"}))
    with pytest.raises(Unsupported, match="--internal on a cluster network"):
        model.parse_network_options({**_options(), model.INTERNAL: True})
    with pytest.raises(InvalidInput, match="wirework.vni.*applies to cluster networks only"):
        model.parse_network_options({model.GENERIC: {"wirework.vni": "5"}})


def test_without_a_shared_store_the_refusal_names_the_fix(ctx: HostContext) -> None:
    pools.request_pool(ctx, SUBNET, "", {}, False)
    with pytest.raises(Unsupported, match=r"wirework service start --store etcd://"):
        dnets.create_network(ctx, NID, _options(), [{"Pool": SUBNET}], [])


def test_create_records_a_binding_and_the_name_defines_the_network(ctx: HostContext) -> None:
    store = MemoryClusterStore()
    binding = _create(ctx, store, **{"wirework.vni": "4242"})
    assert binding.subnet == SUBNET and binding.definition["driver"] == "vxlan" and not binding.cluster
    assert _create_again(ctx, store) == binding  # Docker asking again
    assert registry.load(store, "blue") is None  # no name yet: nothing defined
    with pytest.raises(Conflict, match="learns its name from Docker's events"):
        pools.request_address(ctx, pools.pool_id(SUBNET), "", {})
    assert dockernets.learn_name(ctx, store, NID, "blue")
    defined = registry.require(store, "blue").network
    assert (defined.driver, defined.subnet, defined.vni, defined.host_subnet_len) == ("vxlan", SUBNET, 4242, 24)
    assert bindings.load(ctx, NID).cluster == "blue"  # type: ignore[union-attr]


def _create_again(ctx: HostContext, store: MemoryClusterStore) -> bindings.ClusterBinding:
    return dockernets.create_network(ctx, store, NID, _options(), [{"Pool": SUBNET}], [])


def test_a_different_definition_is_refused_at_create_or_at_every_start(ctx: HostContext) -> None:
    store = MemoryClusterStore()
    registry.define(store, validate_cluster_network("blue", driver="host-gw", subnet=SUBNET))
    with pytest.raises(Conflict, match=r"cluster network blue's, defined with driver host-gw, not vxlan"):
        _create(ctx, store)
    pools.release_pool(ctx, pools.pool_id(SUBNET))  # what Docker does after a refused CreateNetwork
    with pytest.raises(Conflict, match="overlaps cluster network blue"):
        _create(ctx, store, subnet="10.244.0.0/17")
    registry.define(store, validate_cluster_network("green", driver="vxlan", subnet="10.245.0.0/16"))
    _create(ctx, store, subnet="10.246.0.0/16")
    dockernets.learn_name(ctx, store, NID, "green")  # the name is taken by another subnet's network
    with pytest.raises(Conflict, match=r"Docker network green: cluster network green already exists with subnet.*"
                                       r"docker network rm green"):
        pools.request_address(ctx, pools.pool_id("10.246.0.0/16"), "", {})
    other = "ef" * 32
    pools.request_pool(ctx, "10.245.0.0/16", "", {}, False)
    dockernets.create_network(ctx, store, other, _options(), [{"Pool": "10.245.0.0/16"}], [])
    dockernets.learn_name(ctx, store, other, "greener")  # green's subnet, another name
    with pytest.raises(Conflict, match=r"subnet 10.245.0.0/16 is cluster network green's; a Docker network on it "
                                       r"must have that name too"):
        pools.request_address(ctx, pools.pool_id("10.245.0.0/16"), "", {})


def test_an_ip_range_is_refused_for_a_cluster_network(ctx: HostContext) -> None:
    pools.request_pool(ctx, SUBNET, "10.244.1.0/24", {}, False)
    with pytest.raises(InvalidInput, match="leave --ip-range out"):
        dockernets.create_network(ctx, MemoryClusterStore(), NID, _options(), [{"Pool": SUBNET}], [])


def test_a_cluster_pool_needs_a_subnet_and_one_binding_per_host(ctx: HostContext) -> None:
    store = MemoryClusterStore()
    picked = pools.request_pool(ctx, "", "", {}, False, pools="10.1.0.0/16:24")
    with pytest.raises(InvalidInput, match="name its whole range with --subnet"):
        dockernets.create_network(ctx, store, NID, _options(), [{"Pool": pools.subnet_of(picked)}], [])
    _create(ctx, store)
    with pytest.raises(Conflict, match="already Docker network"):
        _create(ctx, store, nid="cd" * 32)


def test_addresses_come_from_this_hosts_share(ctx: HostContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bindings, "WAIT_FOR_AGENT", 0.0)
    store = MemoryClusterStore()
    _create(ctx, store)
    dockernets.learn_name(ctx, store, NID, "blue")
    pid = pools.pool_id(SUBNET)
    with pytest.raises(Conflict, match="has not reached this host yet.*wirework service status"):
        pools.request_address(ctx, pid, "", {model.MAC_OPTION: "02:42:00:00:00:01"})
    net = _materialise(ctx, "blue")
    first = pools.request_address(ctx, pid, "", {model.MAC_OPTION: "02:42:00:00:00:01"})
    assert first.startswith("10.244.7.") and first.endswith("/24")
    assert pools.request_address(ctx, pid, "10.244.7.50", {model.MAC_OPTION: "02:42:00:00:00:02"}) == "10.244.7.50/24"
    with pytest.raises(InvalidInput, match=r"outside 10.244.7.0/24, this host's share of cluster network blue"):
        pools.request_address(ctx, pid, "10.244.9.5", {model.MAC_OPTION: "02:42:00:00:00:03"})
    assert dnets.require(ctx, NID) == net  # endpoints and joins work on the materialised network
    pools.request_pool(ctx, SUBNET, "", {}, False)  # not refused as overlapping this host's own share
    pools.release_pool(ctx, pid)


def test_docker_network_rm_leaves_the_definition_to_the_other_hosts(ctx: HostContext) -> None:
    store = MemoryClusterStore()
    _create(ctx, store)
    dockernets.learn_name(ctx, store, NID, "blue")
    _materialise(ctx, "blue")
    dnets.delete_network(ctx, NID)
    assert bindings.load(ctx, NID) is None and registry.load(store, "blue") is not None
    assert nets.load(ctx.store, "-", "blue") is not None  # the agent's, not Docker's


def test_the_service_runs_an_agent_only_with_a_shared_store(monkeypatch: pytest.MonkeyPatch) -> None:
    from wirework.cli.commands.service import agent_line
    from wirework.service.agent_side import AgentSettings
    from wirework.service.background import Background
    from wirework.service.docker_side import Settings

    monkeypatch.delenv("WIREWORK_STORE", raising=False)
    assert Settings.from_environment(default_socket=False).agent_settings() is None
    monkeypatch.setenv("WIREWORK_STORE", "etcd://127.0.0.1:2379")
    monkeypatch.setenv("WIREWORK_AGENT_LEASE_TTL", "6")
    monkeypatch.setenv("WIREWORK_AGENT_PUBLIC_IP", "192.0.2.7")
    assert Settings.from_environment(default_socket=False).agent_settings() == \
        AgentSettings("etcd://127.0.0.1:2379", "192.0.2.7", 6.0, None)

    class Running:
        running = True

    assert not Background(print, Running()).may_exit_idle()
    line = agent_line({"host": "h1", "store": "etcd://x:1", "state": "running",
                       "networks": {"blue": {"subnet": "10.244.7.0/24"}}})
    assert line == "cluster agent h1 on etcd://x:1: running; networks: blue 10.244.7.0/24"


class _FakeAgent:
    def __init__(self, fail_step: bool) -> None:
        from types import SimpleNamespace

        self.fail_step, self.stopped, self.store_ok = fail_step, False, True
        self.config = SimpleNamespace(host_id="h1", public_ip="192.0.2.9", lease_ttl=5.0)
        self.sync = SimpleNamespace(status=lambda: {"blue": {"subnet": "10.244.7.0/24", "peers": 0, "problems": []}})

    def start(self) -> None:
        pass

    def step(self, timeout: float) -> None:
        if self.fail_step:
            self.fail_step = False
            raise RuntimeError("boom")
        time.sleep(0.01)

    def stop(self) -> None:
        self.stopped = True


def test_the_services_agent_retries_its_join_restarts_after_a_defect_and_stops_with_it(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from wirework.service import agent_side

    monkeypatch.setattr(agent_side, "RETRY_EVERY", 0.01)
    sessions: list[Any] = []
    agents: list[_FakeAgent] = []

    asked: list[int] = []

    class Session:
        closed = False

        def agent(self, **_: Any) -> _FakeAgent:
            asked.append(1)
            if len(asked) == 1:
                raise Conflict("host id h1 is in use by another agent")  # the first join: refused
            agents.append(_FakeAgent(fail_step=len(agents) == 0))
            return agents[-1]

        def close(self) -> None:
            self.closed = True

    def make() -> Session:
        sessions.append(Session())
        return sessions[-1]

    lines: list[str] = []
    status = str(tmp_path / "s.sock.agent")
    runner = agent_side.AgentRunner(agent_side.AgentSettings("etcd://x:1"), make, lines.append, status)
    runner.start()
    deadline = time.monotonic() + 10
    while len(agents) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert runner.running and len(agents) == 2 and sessions[0].closed  # a fresh session after the defect
    assert any("cannot join yet: host id h1 is in use" in ln for ln in lines)
    assert any("cluster agent failed: RuntimeError: boom" in ln for ln in lines)
    while agent_side.read_status(str(tmp_path / "s.sock")).get("state") != "running":  # type: ignore[union-attr]
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert agent_side.read_status(str(tmp_path / "s.sock"))["networks"]["blue"]["subnet"] == "10.244.7.0/24"  # type: ignore[index]
    runner.stop()
    assert not runner.running and agents[-1].stopped and sessions[-1].closed
    assert agent_side.read_status(str(tmp_path / "s.sock")) is None

"""The Docker plugin without Docker: the protocol's shapes and errors (a fake facade), Docker's
options and port bindings, and the IPAM driver's pools and leases on a fake host and a store in
memory."""

from __future__ import annotations

from typing import Any

import pytest

from wirework.context import HostContext
from wirework.dockerplugin import protocol
from wirework.errors import Conflict, InvalidInput, NotFound, Unsupported
from wirework.guests.docker import DockerClient
from wirework.model.guest import Guest
from wirework.networks import endpoints
from wirework.networks import network as nets
from wirework.networks.docker import model, pools
from wirework.networks.endpoints import Endpoint
from wirework.store import open_store
from wirework.testing import FakeHost

NID, EID = "ab" * 32, "cd" * 32


class FakeFacade:
    def __init__(self, **answers: Any) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.answers = answers

    def __getattr__(self, name: str) -> Any:
        def method(*args: Any, **_: Any) -> Any:
            self.calls.append((name, args))
            answer = self.answers.get(name)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return method


def test_static_calls_need_no_session() -> None:
    assert protocol.handle(None, "/Plugin.Activate", {}) == {"Implements": ["NetworkDriver", "IpamDriver"]}
    assert protocol.handle(None, "/NetworkDriver.GetCapabilities", {})["Scope"] == "local"
    assert protocol.handle(None, "/IpamDriver.GetCapabilities", {})["RequiresMACAddress"] is True
    assert not protocol.known("/NetworkDriver.Frobnicate")


def test_calls_reach_the_facade_with_dockers_fields() -> None:
    ww = FakeFacade(docker_request_pool=("wirework:10.1.0.0/24", "10.1.0.0/24"), docker_request_address="10.1.0.7/24",
                    docker_join=("wwdabc", "10.1.0.1"), docker_create_endpoint=None)
    assert protocol.handle(ww, "/IpamDriver.RequestPool", {"Pool": "10.1.0.0/24", "V6": False}) == \
        {"PoolID": "wirework:10.1.0.0/24", "Pool": "10.1.0.0/24", "Data": {}}
    assert protocol.handle(ww, "/IpamDriver.RequestAddress", {"PoolID": "p", "Address": ""})["Address"] == "10.1.0.7/24"
    answer = protocol.handle(ww, "/NetworkDriver.Join", {"NetworkID": NID, "EndpointID": EID, "SandboxKey": "/x"})
    assert answer == {"InterfaceName": {"SrcName": "wwdabc", "DstPrefix": "eth"}, "StaticRoutes": [],
                      "DisableGatewayService": True, "Gateway": "10.1.0.1"}
    mac_given = {"NetworkID": NID, "EndpointID": EID, "Interface": {"Address": "10.1.0.7/24", "MacAddress": "02:42:00:00:00:01"}}
    assert protocol.handle(ww, "/NetworkDriver.CreateEndpoint", mac_given) == {"Interface": {}}
    assert ("docker_join", (NID, EID, "/x")) in ww.calls
    assert protocol.handle(ww, "/NetworkDriver.Leave", {"NetworkID": NID, "EndpointID": EID}) == {}


def test_an_internal_network_answers_no_gateway_and_a_missing_mac_is_answered() -> None:
    ww = FakeFacade(docker_join=("wwdabc", None), docker_create_endpoint="02:aa:bb:cc:dd:ee")
    assert "Gateway" not in protocol.handle(ww, "/NetworkDriver.Join", {"NetworkID": NID, "EndpointID": EID})
    answer = protocol.handle(ww, "/NetworkDriver.CreateEndpoint",
                             {"NetworkID": NID, "EndpointID": EID, "Interface": {"Address": "10.1.0.7/24"}})
    assert answer == {"Interface": {"MacAddress": "02:aa:bb:cc:dd:ee"}}


def test_errors_are_docker_shaped_per_driver() -> None:
    ww = FakeFacade(docker_request_pool=Conflict("subnet taken"), docker_create_network=InvalidInput("bad option"))
    assert protocol.handle(ww, "/IpamDriver.RequestPool", {"Pool": "10.1.0.0/24"}) == {"Error": "wirework: subnet taken"}
    assert protocol.handle(ww, "/NetworkDriver.CreateNetwork", {"NetworkID": NID}) == {"Err": "wirework: bad option"}
    assert "NetworkID" in protocol.handle(ww, "/NetworkDriver.Join", {"NetworkID": "not hex!"})["Err"]


def test_a_retry_without_its_body_is_refused_and_says_why() -> None:
    ww = FakeFacade()
    answer = protocol.handle(ww, "/NetworkDriver.Join", {})
    assert "empty NetworkDriver.Join request" in answer["Err"] and "run the docker command again" in answer["Err"]
    assert "Error" in protocol.handle(ww, "/IpamDriver.RequestAddress", {})
    assert ww.calls == []


def test_network_options() -> None:
    opts = model.parse_network_options({model.GENERIC: {"com.docker.network.bridge.enable_icc": "false",
                                                         "wirework.mtu": "1400", "wirework.bridge": "brx"},
                                        model.INTERNAL: True})
    assert (opts.icc, opts.mtu, opts.bridge, opts.internal, opts.driver) == (False, 1400, "brx", True, "bridge")
    with pytest.raises(InvalidInput, match="wirework.colour.*known: wirework.driver"):
        model.parse_network_options({model.GENERIC: {"wirework.colour": "blue"}})
    with pytest.raises(InvalidInput, match="use true or false"):
        model.parse_network_options({model.GENERIC: {"wirework.icc": "maybe"}})
    with pytest.raises(Unsupported, match="IPv6"):
        model.parse_network_options({model.ENABLE_IPV6: True})
    with pytest.raises(InvalidInput, match="use bridge or one of vxlan"):
        model.parse_network_options({model.GENERIC: {"wirework.driver": "macvlan"}})
    assert model.parse_ipam_options({"wirework.force": "true"}) is True
    with pytest.raises(InvalidInput, match="IPAM option 'x'"):
        model.parse_ipam_options({"x": "1"})


def test_pools_and_port_bindings() -> None:
    assert model.parse_pool("10.1.0.0/24", "10.1.0.128/25") == ("10.1.0.0/24", "10.1.0.128/25")
    assert model.parse_pool("", "") == (None, None)
    for pool, sub, why in (("", "10.1.0.0/25", "needs a --subnet"), ("10.1.0.1/24", "", "host bits"),
                           ("10.1.0.0/24", "10.2.0.0/25", "not inside"), ("10.1.0.0/31", "", "/30 or larger")):
        with pytest.raises(InvalidInput, match=why):
            model.parse_pool(pool, sub)
    bindings = model.port_bindings({model.PORTMAP: [
        {"Proto": 6, "Port": 80, "HostIP": "", "HostPort": 8080, "HostPortEnd": 8080},
        {"Proto": 17, "Port": 53, "HostIP": "127.0.0.1", "HostPort": 0, "HostPortEnd": 0},
        {"Proto": 6, "Port": 90, "HostIP": "0.0.0.0", "HostPort": 9000, "HostPortEnd": 9005}]})
    assert [(b["proto"], b["guest_port"], b["host_ip"], b["host_port"], b["host_port_end"]) for b in bindings] == [
        ("tcp", 80, None, 8080, 8080), ("udp", 53, "127.0.0.1", 0, 0), ("tcp", 90, None, 9000, 9005)]
    with pytest.raises(Unsupported, match="sctp"):
        model.port_bindings({model.PORTMAP: [{"Proto": 132, "Port": 1}]})


# -- the IPAM driver on a fake host -----------------------------------------------------------
@pytest.fixture
def ctx() -> HostContext:
    def no_guests(ref: str) -> Guest:
        raise NotFound(what="guest", name=ref)

    return HostContext(FakeHost(), "-", open_store("memory"), DockerClient("/nonexistent/docker.sock"), no_guests)


def _network(ctx: HostContext, subnet: str, name: str = "docker-abc") -> nets.Network:
    net = nets.Network(name=name, host="-", bridge="ww-abc", subnet=subnet, gateway=subnet.replace(".0/24", ".1"),
                       made_by="docker", docker_id=NID)
    ctx.store.put(nets.net_key("-", name), net.to_dict())
    return net


def test_request_pool_checks_picks_and_repeats(ctx: HostContext) -> None:
    pid = pools.request_pool(ctx, "10.1.0.0/24", "", {}, False)
    assert pid == "wirework:10.1.0.0/24"
    assert pools.request_pool(ctx, "10.1.0.0/24", "", {}, False) == pid  # Docker asking again
    with pytest.raises(Conflict, match="overlaps wirework network pool 10.1.0.0/24"):
        pools.request_pool(ctx, "10.1.0.0/25", "", {}, False)
    picked = pools.request_pool(ctx, "", "", {}, False, pools="10.1.0.0/16:24")
    assert picked == "wirework:10.1.1.0/24"  # the first /24 is reserved
    with pytest.raises(Unsupported, match="IPv6"):
        pools.request_pool(ctx, "", "", {}, True)


def test_gateway_aux_and_leases_by_mac(ctx: HostContext) -> None:
    pid = pools.request_pool(ctx, "10.2.0.0/24", "", {}, False)
    gw_opts = {model.ADDRESS_TYPE: model.GATEWAY_TYPE}
    assert pools.request_address(ctx, pid, "", gw_opts) == "10.2.0.1/24"
    with pytest.raises(InvalidInput, match="outside the subnet"):
        pools.request_address(ctx, pid, "10.3.0.1", gw_opts)
    assert pools.request_address(ctx, pid, "10.2.0.9", {}) == "10.2.0.9/24"  # --aux-address, before the network
    net = _network(ctx, "10.2.0.0/24")
    mac = {model.MAC_OPTION: "02:42:0a:02:00:05"}
    first = pools.request_address(ctx, pid, "", mac)
    assert pools.request_address(ctx, pid, "", mac) == first  # a retry gets the same address
    with pytest.raises(InvalidInput, match="outside network"):
        pools.request_address(ctx, pid, "10.9.0.5", mac)
    ep = Endpoint(network=net.name, host="-", guest=Guest("docker-ep", EID, "e", f"docker-ep:{EID}", "", ""),
                  att_id="x", ifname="", ip=first, made_by="docker", lease_owner="docker-mac:02:42:0a:02:00:05")
    ctx.store.txn([], [endpoints.put_op(ep)])
    second = pools.request_address(ctx, pid, "", mac)  # the same --mac-address on another container
    assert second != first
    pools.release_address(ctx, pid, second.split("/")[0])
    assert pools.request_address(ctx, pid, "", mac) == second  # the address comes back to that MAC


def test_bind_refuses_a_pool_of_another_ipam_and_a_taken_subnet(ctx: HostContext) -> None:
    with pytest.raises(InvalidInput, match="another IPAM driver"):
        pools.bind(ctx, "10.4.0.0/24", "docker-x")
    pools.request_pool(ctx, "10.5.0.0/24", "", {}, False)
    _network(ctx, "10.5.0.0/24", name="docker-y")
    with pytest.raises(Conflict, match="already taken by network docker-y"):
        pools.bind(ctx, "10.5.0.0/24", "docker-z")
    pools.release_pool(ctx, "wirework:10.5.0.0/24")
    pools.release_pool(ctx, "wirework:10.5.0.0/24")  # twice is fine
    with pytest.raises(NotFound):
        pools.request_address(ctx, "wirework:10.6.0.0/24", "", {})


def test_the_docker_front_imports_only_the_facade_the_errors_and_itself() -> None:
    import ast
    from pathlib import Path

    root = Path(protocol.__file__).parent
    allowed = ("wirework.api", "wirework.errors", "wirework.dockerplugin")
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert not name.startswith("wirework") or name.startswith(allowed), f"{path.name} imports {name}"

"""CNI ADD/DEL on a cluster network (`"driver": "cluster"`): an address from this host's subnet of
it once the host's agent has built it; before that, "try again later" (CNI code 11)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest

from tests.cluster.topo import Hosts, memory_store
from tests.conftest import Namespaces
from tests.ns.cni import Cni
from wirework.cluster import registry
from wirework.cluster.model import validate_cluster_network

CONF = {"cniVersion": "1.0.0", "name": "blue", "type": "wirework", "driver": "cluster"}


@pytest.fixture
def hosts(netns: Namespaces, state_dir: str) -> Iterator[Hosts]:
    made = Hosts(netns, state_dir, store=memory_store()[0])
    yield made
    made.close()


def test_cni_add_on_a_cluster_network_takes_an_address_of_this_hosts_subnet(hosts: Hosts, netns: Namespaces,
                                                                              tmp_path_factory: pytest.TempPathFactory
                                                                              ) -> None:
    from wirework.cni.install import install

    folder = str(tmp_path_factory.mktemp("cnibin"))
    install(folder)
    registry.define(hosts.store, validate_cluster_network("blue", driver="vxlan", subnet="10.244.0.0/16"))
    hosts.add("h1")
    hosts.add("h2")
    hosts.agent("h1").start()
    cni = {label: Cni(folder, hosts.names[label], f"{hosts.state_dir}/{label}") for label in ("h1", "h2")}
    container = netns("c1")
    added = cni["h1"].ok("ADD", CONF, cid="c1", netns=f"/run/netns/{container}")
    address = ipaddress.ip_interface(added["ips"][0]["address"])
    assert address.ip in ipaddress.ip_network(hosts.agents["h1"].mine["blue"].subnet)
    early = cni["h2"].call("ADD", CONF, cid="c2", netns=f"/run/netns/{netns('c2')}")
    assert early.error_code() == 11 and "has not reached this host yet" in early.out["details"]
    bad = cni["h1"].call("ADD", {**CONF, "subnet": "10.9.0.0/24"}, cid="c3", netns=f"/run/netns/{netns('c3')}")
    assert bad.code != 0 and "come from its definition" in bad.out["details"]
    cni["h1"].ok("DEL", CONF, cid="c1", netns=f"/run/netns/{container}")
    assert hosts.sessions["h1"].network_inspect("blue")["guests"] == []

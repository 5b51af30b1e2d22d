"""Where cluster records live in the shared store (keys relative to the store's prefix)."""

from __future__ import annotations

ROOT = "cluster/"
NETS = ROOT + "net/"
NETREV = ROOT + "netrev"
VNIS = ROOT + "vni/"
HOSTS = ROOT + "host/"
SUBNETS = ROOT + "subnet/"
JOINS = ROOT + "join/"


def net_key(name: str) -> str:
    return NETS + name


def vni_key(family: str, vni: int) -> str:
    return f"{VNIS}{family}/{vni}"


def host_key(host: str) -> str:
    return HOSTS + host


def subnets_prefix(network: str) -> str:
    return f"{SUBNETS}{network}/"


def subnet_key(network: str, subnet: str) -> str:
    """`10.244.3.0/24` -> `cluster/subnet/<network>/10.244.3.0-24` (flannel's spelling)."""
    return subnets_prefix(network) + subnet.replace("/", "-")


def join_key(network: str) -> str:
    return JOINS + network


def network_of_subnet_key(key: str) -> str:
    return key[len(SUBNETS):].split("/", 1)[0]


# -- the host's own store (SQLite): what the agent remembers across restarts ---------------
def local_agent_key(local_host: str) -> str:
    return f"cluster/{local_host}/agent"


def local_subnet_key(local_host: str, network: str) -> str:
    return f"cluster/{local_host}/subnet/{network}"

"""An in-memory host for unit tests of plans and the executor (no root, no kernel).

It models what steps change — links per namespace, addresses, routes, rules, OVS ports,
iptables accepts, sysctls — closely enough that "apply then undo" can be checked to return
the host to its exact starting state, and it can be told to fail any call.
"""

from __future__ import annotations

import copy

from wirework.firewall.fake import FakeNft
from wirework.testing.fake_net import FakeNet, FakeState


class FakeOvs:
    def __init__(self, state: FakeState, datapath: str = "netdev") -> None:
        self.s = state
        self.datapath = datapath

    def available(self) -> bool:
        return True

    def kernel_datapath_available(self) -> bool:
        return self.datapath == "system"

    def bridge_exists(self, name: str) -> bool:
        return name in self.s.ovs_bridges

    def bridge_datapath(self, name: str) -> str:
        return self.datapath

    def add_bridge(self, name: str, *, datapath: str, owner: str) -> None:
        self.s.ovs_bridges.setdefault(name, owner)

    def del_bridge(self, name: str, *, owner: str | None = None) -> bool:
        if self.s.ovs_bridges.get(name) is None or (owner and self.s.ovs_bridges[name] != owner):
            return False
        del self.s.ovs_bridges[name]
        return True

    def add_port(self, bridge: str, port: str, *, tag: int | None, owner: str, extra: dict[str, str] | None = None,
                 port_extra: dict[str, str] | None = None) -> None:
        self.s.ovs_ports[port] = (bridge, owner)

    def del_port(self, bridge: str, port: str, *, owner: str | None = None) -> bool:
        if port not in self.s.ovs_ports or (owner and self.s.ovs_ports[port][1] != owner):
            return False
        del self.s.ovs_ports[port]
        return True

    def ports(self, bridge: str) -> list[str]:
        return [p for p, (b, _) in self.s.ovs_ports.items() if b == bridge]

    def bridges(self) -> list[str]:
        return sorted(self.s.ovs_bridges)

    def stp_enabled(self, bridge: str) -> bool:
        return False

    def port_owner(self, port: str) -> str | None:
        return self.s.ovs_ports.get(port, ("", None))[1]

    def bridge_owner(self, name: str) -> str | None:
        return self.s.ovs_bridges.get(name)

    def owned_ports(self) -> list[tuple[str, str, str]]:
        return [(b, p, o) for p, (b, o) in self.s.ovs_ports.items()]

    def interface_error(self, port: str) -> str | None:
        return None


class FakeFw:
    def __init__(self, state: FakeState, blocked: bool) -> None:
        self.s = state
        self.blocked = blocked

    def forward_blocked(self) -> bool:
        return self.blocked

    def bridges_with_forward(self) -> list[str]:
        return sorted(b for b, o in self.s.accepts if o == f"bridge:{b}")

    def has_bridge_forward(self, bridge: str, owner: str) -> bool:
        return (bridge, owner) in self.s.accepts

    def ensure_bridge_forward(self, bridge: str, owner: str) -> bool:
        if (bridge, owner) in self.s.accepts:
            return False
        self.s.accepts.add((bridge, owner))
        return True

    def remove_bridge_forward(self, bridge: str, owner: str) -> bool:
        if (bridge, owner) not in self.s.accepts:
            return False
        self.s.accepts.discard((bridge, owner))
        return True

    def ensure_bridge_accept(self, bridge: str, owner: str) -> bool:
        return self.ensure_bridge_forward(f"{bridge}/io", owner)

    def remove_bridge_accept(self, bridge: str, owner: str) -> bool:
        return self.remove_bridge_forward(f"{bridge}/io", owner)


class FakeSysctl:
    def __init__(self, state: FakeState) -> None:
        self.s = state

    def get(self, key: str, ns: str | None = None) -> str | None:
        return self.s.sysctls.get((ns, key), "0")

    def set(self, key: str, value: str, ns: str | None = None) -> None:
        self.s.sysctls[(ns, key)] = value


class FakeProc:
    def __init__(self) -> None:
        self.ran: list[tuple[str | None, list[str]]] = []

    def run_in(self, ns: str | None, argv: list[str], *, timeout: float = 30.0, input_text: str | None = None) -> str:
        self.ran.append((ns, argv))
        return ""

    def which(self, program: str) -> str | None:
        return f"/usr/bin/{program}"


class FakeIcmp:
    """Echo requests answered by the addresses in `answering`."""

    def __init__(self) -> None:
        self.answering: set[str] = set()

    def echo(self, target: str, *, timeout: float = 1.0) -> bool:
        return target in self.answering


class FakeArp:
    """Records the addresses announced."""

    def __init__(self) -> None:
        self.announced: list[tuple[str, str]] = []

    def announce(self, ip: str, netns_path: str, *, count: int = 3, interval: float = 0.25) -> bool:
        self.announced.append((ip, netns_path))
        return True


class FakeHost:
    """Host protocol in memory. `fail_on("add_route")` makes that call raise once."""

    def __init__(self, *, netns: str | None = None, forward_blocked: bool = False, ovs_datapath: str = "netdev") -> None:
        self.netns = netns
        self.netns_path = f"/run/netns/{netns}" if netns else None
        self.state = FakeState()
        self._fail: set[str] = set()
        self.net = FakeNet(self.state, self)
        self.ovs = FakeOvs(self.state, ovs_datapath)
        self.fw = FakeFw(self.state, forward_blocked)
        self.sysctl = FakeSysctl(self.state)
        self.proc = FakeProc()
        self.nft = FakeNft()
        self.icmp = FakeIcmp()
        self.arp = FakeArp()

    def fail_on(self, call: str) -> None:
        self._fail.add(call)

    def maybe_fail(self, call: str) -> None:
        if call in self._fail:
            self._fail.discard(call)
            raise RuntimeError(f"injected failure in {call}")

    def snapshot(self) -> FakeState:
        return copy.deepcopy(self.state)

    def add_guest(self, ns: str) -> None:
        """A guest namespace with only lo in it."""
        self.net._add(ns, "lo", "", 65536, "00:00:00:00:00:00")

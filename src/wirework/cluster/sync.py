"""The agent's convergence loop: which networks changed, and bringing each one in line.

For every dirty network: leave it when it is gone, draining or not wanted; (re)claim this
host's subnet when the record is missing; tear the local part down first when the subnet
changed (its guests' addresses would belong to another host); then plan with
`cluster.converge` and run the plan through the executor, the materialised network's record
written in the transaction that closes the journal. Problems (peers left out, a failed plan)
are logged and published as this host's status on the network, which `host ls` shows.
"""

from __future__ import annotations

import ipaddress
import time
from typing import TYPE_CHECKING

from wirework.cluster import leases
from wirework.cluster.converge import Desired, Known, plan_host, underlay_link
from wirework.cluster.local import leave_locally, materialised, record_op
from wirework.cluster.model import ACTIVE, ClusterNetwork, HostSubnet
from wirework.errors import LeaseExpired, StoreUnavailable, Unsupported
from wirework.networks import network as nets
from wirework.networks.network import Network
from wirework.uplink.state import uplink

if TYPE_CHECKING:
    from wirework.cluster.agent import Agent

RETRY_AFTER = 2.0  # seconds before a network whose convergence failed is tried again


class Converger:
    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.dirty: set[str] = set()
        self.retry: dict[str, float] = {}
        self.problems: dict[str, list[str]] = {}
        self.definitions: dict[str, ClusterNetwork] = {}  # the last seen, to tear down after it went
        self.kernel: dict[str, Known] = {}  # what the host holds per network (no probe needed)
        self.probed_at = time.monotonic()
        self.converged = 0  # plans run (for tests and benchmarks)

    def mark(self, names: set[str]) -> None:
        self.dirty |= names

    def problem(self, name: str, text: str) -> None:
        self.problems.setdefault(name, []).append(text)
        self.agent.log(f"network {name}: {text}")

    def materialised(self) -> dict[str, Network]:
        return materialised(self.agent.ctx)

    def reprobe(self) -> None:
        """Forget what the host is known to hold: the next convergence of each network probes the
        kernel again (a hand-made change gets repaired)."""
        self.kernel.clear()
        self.probed_at = time.monotonic()
        self.mark(set(self.agent.nets) | set(self.agent.mine))

    def converge_dirty(self) -> None:
        now = time.monotonic()
        due = sorted(n for n in self.dirty if self.retry.get(n, 0.0) <= now)
        for name in due:
            self.dirty.discard(name)
            try:
                self.converge(name)
                self.retry.pop(name, None)
            except LeaseExpired:
                self.agent.log(f"network {name}: the lease ran out under a claim; taking a new one")
                self.agent._regrant()
                self.dirty.add(name)
            except StoreUnavailable as exc:
                self.agent._lost_store(exc)
                self.dirty.add(name)
            except Exception as exc:
                self.kernel.pop(name, None)
                self.problems[name] = [str(exc)]
                self.agent.log(f"network {name}: {exc} (trying again in {RETRY_AFTER:g} s)")
                self.retry[name] = now + RETRY_AFTER
                self.dirty.add(name)

    def converge(self, name: str) -> None:
        agent = self.agent
        net = agent.nets.get(name)
        if net is not None:
            self.definitions[name] = net
        if net is None or net.state != ACTIVE or not agent._wanted([name]):
            self.kernel.pop(name, None)
            if name in agent.mine or name in self.materialised():
                self.leave(name)
            return
        mine = self._own_record(name)
        if mine is None:
            return  # the store is out of reach: keep the kernel as it is
        here = self.materialised().get(name)
        if here is not None and here.subnet != mine.subnet:
            agent.log(f"network {name}: this host's subnet moved from {here.subnet} to {mine.subnet}; "
                      f"its guests there are disconnected")
            leave_locally(agent.ctx, name, self._desired_of(name, here))
            self.kernel.pop(name, None)
        agent.ctx.before_change()  # plan against the host as recovery leaves it, not as a crash did
        if net.uses_ovs and name not in self.kernel:
            self._ovs_underlay(mine.public_ip)
        peers = tuple(r for r in agent.records.get(name, {}).values() if r.host != agent.config.host_id)
        result = plan_host(agent.ctx.host, Desired(net, mine, peers), agent.ctx.host_id, self.kernel.pop(name, None))
        stored = nets.load(agent.ctx.store, agent.ctx.host_id, name)
        if result.plan.steps:
            agent.ctx.executor().run(result.plan, lambda undo: [record_op(result.network)])
            self.converged += 1
        elif stored is None or not nets.same_definition(stored, result.network):
            agent.ctx.store.txn([], [record_op(result.network)])
        if result.known is not None:
            self.kernel[name] = result.known
        for text in result.problems:
            if text not in self.problems.get(name, []):  # said once, not on every change
                agent.log(f"network {name}: {text}")
        self.problems[name] = list(result.problems)
        self._publish(name, mine)

    def _ovs_underlay(self, public_ip: str) -> None:
        """Userspace OVS tunnels need the underlay address on an OVS bridge holding the NIC:
        move it there once (the uplink operation, as `tunnel add` does; it stays)."""
        ctx = self.agent.ctx
        link = underlay_link(ctx.host, public_ip)
        if ctx.host.ovs.kernel_datapath_available() or ctx.host.ovs.bridge_exists(link.name):
            return
        if link.kind == "bridge":
            raise Unsupported(feature="userspace OVS tunnels over a Linux bridge",
                              why=f"the public IP {public_ip} sits on Linux bridge {link.name}; it must sit on an OVS "
                                  f"bridge holding the NIC ('wirework uplink --ovs BRIDGE NIC')")
        bridge = f"ul-{link.name}"[:15]
        self.agent.log(f"moving the underlay {public_ip} from {link.name} onto OVS bridge {bridge} (userspace tunnels)")
        uplink(ctx, bridge, link.name, ovs=True, check=None)

    def _own_record(self, name: str) -> HostSubnet | None:
        agent = self.agent
        held = agent.mine.get(name)
        seen = agent.records.get(name, {}).get(held.subnet) if held else None
        if held is not None and seen is not None and seen.host == agent.config.host_id:
            agent.mine[name] = seen
            return seen
        if not agent.store_ok:
            return held  # cannot claim now; keep converging on what this host held
        if held is not None:
            agent._renew()  # the record went: most likely with an expired lease
        return agent._join(name)

    def _publish(self, name: str, mine: HostSubnet) -> None:
        status = "; ".join(self.problems.get(name, [])) or "ok"
        if mine.status != status and self.agent.store_ok:
            updated = leases.set_status(self.agent.store, mine, status)
            if updated is not None:
                self.agent.mine[name] = updated

    def leave(self, name: str) -> None:
        agent = self.agent
        self.kernel.pop(name, None)
        here = self.materialised().get(name)
        errors = leave_locally(agent.ctx, name, self._desired_of(name, here))
        rec = agent.mine.pop(name, None)
        if rec is not None and agent.store_ok:
            try:
                leases.release_subnet(agent.store, rec)
            except StoreUnavailable as exc:
                agent._lost_store(exc)
        agent.memory.forget_subnet(name)
        self.problems.pop(name, None)
        agent.log(f"left network {name}" + (f" (teardown left: {'; '.join(errors)})" if errors else ""))

    def drop_taken(self) -> None:
        """Local parts of networks whose subnet another host holds now (this host was away longer
        than its lease): their guests' addresses are that host's; disconnect them, whatever else
        happens next (even if this host cannot join again)."""
        agent = self.agent
        for name, here in self.materialised().items():
            holder = agent.records.get(name, {}).get(here.subnet)
            if holder is not None and holder.host != agent.config.host_id:
                agent.log(f"network {name}: subnet {here.subnet} is held by {holder.host} now; this host's guests "
                          f"there are disconnected")
                leave_locally(agent.ctx, name, self._desired_of(name, here))
                agent.memory.forget_subnet(name)

    def _desired_of(self, name: str, here: Network | None) -> Desired | None:
        """What this host had of a network, for tearing it down (even after its definition went)."""
        agent = self.agent
        net = self.definitions.get(name) or agent.nets.get(name)
        if net is None and here is not None:
            length = ipaddress.IPv4Network(here.subnet).prefixlen
            net = ClusterNetwork(name, here.driver, here.cluster_cidr, length)
        mine = agent.mine.get(name)
        if mine is None and here is not None:
            mine = HostSubnet(name, here.subnet, agent.config.host_id, agent.config.public_ip)
        if net is None or mine is None:
            return None
        return Desired(net, mine)

    def status(self) -> dict[str, dict[str, object]]:
        agent = self.agent
        return {name: {"subnet": rec.subnet, "peers": sum(1 for r in agent.records.get(name, {}).values()
                                                          if r.host != agent.config.host_id),
                       "problems": list(self.problems.get(name, []))}
                for name, rec in sorted(agent.mine.items())}

"""Steps for Open vSwitch tunnel ports (GRE, VXLAN, Geneve), each tagged with its owner."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wirework.drivers.switch import OvsDelPort
from wirework.model.host import Host
from wirework.naming import OVS_OWNER_KEY
from wirework.plan.steps import Step, register


@register
@dataclass(frozen=True)
class OvsAddTunnelPort(Step):
    kind = "ovs_add_tunnel_port"
    bridge: str
    port: str
    type_: str
    remote_ip: str
    owner: str
    key: int | None = None
    local_ip: str | None = None

    def options(self) -> dict[str, str]:
        opts = {"type": self.type_, "options:remote_ip": self.remote_ip}
        if self.key is not None:
            opts["options:key"] = str(self.key)
        if self.local_ip:
            opts["options:local_ip"] = self.local_ip
        return opts

    def apply(self, host: Host) -> Sequence[Step]:
        if self.port in host.ovs.ports(self.bridge):
            return ()  # already there (same name: same remote and key, by construction)
        host.ovs.add_port(self.bridge, self.port, tag=None, owner=self.owner, extra=self.options())
        return [OvsDelPort(self.bridge, self.port, self.owner)]

    def crash_undo(self) -> Sequence[Step]:
        return [OvsDelPort(self.bridge, self.port, self.owner)]

    def changes_existing(self) -> bool:
        return False

    def describe(self) -> str:
        key = f" key {self.key}" if self.key is not None else ""
        return f"add {self.type_.upper()} tunnel port {self.port} to {self.remote_ip}{key} on Open vSwitch bridge {self.bridge}"

    def commands(self) -> list[str]:
        opts = " ".join(f"{k}={v}" for k, v in self.options().items())
        return [f"ovs-vsctl add-port {self.bridge} {self.port} -- set interface {self.port} {opts} "
                f"-- set port {self.port} external_ids:{OVS_OWNER_KEY}={self.owner}"]

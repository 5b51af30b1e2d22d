"""Published ports of Docker endpoints (`docker run -p`), from ProgramExternalConnectivity.

Docker passes its port bindings; a host port of 0 (`-p 80`, `-p 127.0.0.1::80`) or a range
(`-p 8000-8010:80`) is settled here, as Docker's bridge driver does: the first port of the
range, or of the kernel's ephemeral range, that no other guest publishes and no host program
listens on. The mappings are the same nftables map elements as `wirework connect -p`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from wirework.context import HostContext
from wirework.drivers.bridgeports import SetHairpin
from wirework.errors import Conflict
from wirework.firewall.model import PortMapping
from wirework.naming import host_veth_name
from wirework.networks import connops, endpoints, fw
from wirework.networks.connect import check_ports
from wirework.networks.docker import model
from wirework.networks.endpoints import Endpoint
from wirework.networks.hostports import listening_ports
from wirework.networks.network import Network
from wirework.plan.executor import run_best_effort
from wirework.plan.steps import Plan, Step
from wirework.store.base import Op

EPHEMERAL = (49153, 60999)  # Docker's default when the kernel's range cannot be read


def publish(ctx: HostContext, net: Network, ep: Endpoint, bindings: list[dict[str, Any]]) -> list[str]:
    """Publish the bindings (after unpublishing different ones); the mappings as text."""
    ctx.before_change()
    if ep.ports and _satisfied(connops.mappings(ep), bindings):
        return [m.text() for m in connops.mappings(ep)]  # Docker asking again
    if ep.ports:
        ep = unpublish(ctx, ep)
    if not bindings:
        return []
    others = [e for e in endpoints.all_endpoints(ctx.store, ctx.host_id) if e.key != ep.key]
    listening = listening_ports(ctx.host.netns)
    mappings = _settle(ctx, net, ep, bindings, others, listening)
    check_ports(others, mappings, listening)
    published = replace(ep, ports=tuple(connops.port_dict(m) for m in mappings))

    def commit(undo: list[Step]) -> list[Op]:
        return [endpoints.put_op(published)]

    # Hairpin on its bridge port, as connect sets it: the container may reach its own published
    # port through a host address (the port goes with the veth at DeleteEndpoint).
    steps = [SetHairpin(host_veth_name(ep.att_id), True, fresh=True), *fw.publish_steps(mappings)]
    ctx.executor().run(Plan("docker-publish", f"att:{ep.att_id}", tuple(steps)), commit)
    return [m.text() for m in mappings]


def unpublish(ctx: HostContext, ep: Endpoint) -> Endpoint:
    ctx.before_change()
    run_best_effort(ctx.host, fw.unpublish_steps(connops.mappings(ep)))
    bare = replace(ep, ports=())
    ctx.store.txn([], [endpoints.put_op(bare)])
    return bare


def _satisfied(current: list[PortMapping], bindings: list[dict[str, Any]]) -> bool:
    if len(current) != len(bindings):
        return False
    left = list(current)
    for b in bindings:
        match = next((m for m in left if m.proto == b["proto"] and m.guest_port == b["guest_port"]
                      and m.host_ip == b["host_ip"] and _fits(m.host_port, b)), None)
        if match is None:
            return False
        left.remove(match)
    return True


def _fits(port: int, binding: dict[str, Any]) -> bool:
    return bool(binding["host_port"] == 0 or binding["host_port"] <= port <= binding["host_port_end"])


def _settle(ctx: HostContext, net: Network, ep: Endpoint, bindings: list[dict[str, Any]],
            others: list[Endpoint], listening: set[tuple[str, int]]) -> list[PortMapping]:
    taken = {(p["proto"], p["host_port"]) for e in others for p in e.ports} | set(listening)
    owner = f"att:{ep.att_id}"
    out: list[PortMapping] = []
    for b in bindings:
        if b["host_port"] and b["host_port"] == b["host_port_end"]:  # one port asked for: that one
            out.append(model.mapping(b, b["host_port"], net.name, ep.address, owner))  # (check_ports names a holder)
            continue
        first, last = (b["host_port"], b["host_port_end"]) if b["host_port"] else _ephemeral(ctx)
        port = next((p for p in range(first, last + 1) if (b["proto"], p) not in taken), None)
        if port is None:
            raise Conflict(f"no free host port in {first}-{last}/{b['proto']} for port {b['guest_port']}; "
                           f"publish another range")
        taken.add((b["proto"], port))
        out.append(model.mapping(b, port, net.name, ep.address, owner))
    return out


def _ephemeral(ctx: HostContext) -> tuple[int, int]:
    text = ctx.host.sysctl.get("net.ipv4.ip_local_port_range") or ""
    parts = text.split()
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return int(parts[0]), int(parts[1])
    return EPHEMERAL

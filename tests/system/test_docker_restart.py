"""Attachments that survive container restarts (issue 10, item 2), on a private dockerd.

pipework's oldest complaint: a container that restarts comes back without the address pipework
gave it. With the service following Docker's events, wirework re-applies the attachment when the
container starts again (same address, MAC, routes); `--once` keeps pipework's one-shot
behaviour; a container's removal, not its stop, releases the address and every host-side object.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from tests.conftest import RUN_ID
from tests.system.conftest import Service
from tests.system.dockerd import PrivateDockerd, wait_until

BRIDGE = f"brwr{RUN_ID}"


@pytest.fixture
def service(dockerd: PrivateDockerd, state_dir: str) -> Iterator[Service]:
    svc = Service(state_dir, dockerd.host, plugin=False)
    svc.start()
    yield svc
    svc.stop()
    svc.cli("gc", local=True, check=False)
    subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True, check=False)


def _mac(dockerd: PrivateDockerd, name: str, ifname: str) -> str:
    out = dockerd.exec(name, "cat", f"/sys/class/net/{ifname}/address").stdout.strip()
    return out


def _ls(service: Service) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(service.cli("ls", "--json").stdout)
    return rows


def test_docker_restart_keeps_a_pipework_attachment(dockerd: PrivateDockerd, service: Service) -> None:
    c = dockerd.run(f"wwt{RUN_ID}rs1", "--net=none")
    service.cli("pipework", BRIDGE, "-i", "eth1", c, "10.191.0.5/24@10.191.0.1")
    mac = _mac(dockerd, c, "eth1")
    dockerd.cli("restart", "-t", "0", c)
    wait_until("the address back after the restart", lambda: "10.191.0.5/24" in dockerd.addresses(c))
    assert _mac(dockerd, c, "eth1") == mac
    assert "default via 10.191.0.1 dev eth1" in dockerd.exec(c, "ip", "route").stdout
    (row,) = _ls(service)
    assert row["state"] == "ok" and row["cidr"] == "10.191.0.5/24"

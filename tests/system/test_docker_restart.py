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
    svc.remove()
    for name in list(dockerd.containers):
        dockerd.rm(name)
    svc.cli("gc", local=True, check=False)
    subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True, check=False)


def _mac(dockerd: PrivateDockerd, name: str, ifname: str) -> str:
    out = dockerd.exec(name, "cat", f"/sys/class/net/{ifname}/address").stdout.strip()
    return out


def _ls(service: Service, *, local: bool = False) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(service.cli("ls", "--json", local=local).stdout)
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


def _rows(service: Service, *, local: bool = False, **filters: object) -> list[dict[str, object]]:
    return [r for r in _ls(service, local=local) if all(r.get(k) == v for k, v in filters.items())]


def test_routes_and_a_second_interface_come_back_and_inspect_says_who_made_them(
        dockerd: PrivateDockerd, service: Service) -> None:
    c = dockerd.run(f"wwt{RUN_ID}rs2", "--net=none")
    service.cli("pipework", BRIDGE, "-i", "eth1", c, "10.191.1.5/24")
    service.cli("attach", c, "--bridge", BRIDGE, "--ifname", "eth2", "--ip", "10.191.2.5/24", "--mac", "U:rs2")
    service.cli("pipework", "route", c, "add", "10.192.0.0/16", "via", "10.191.1.1", "dev", "eth1")
    macs = (_mac(dockerd, c, "eth1"), _mac(dockerd, c, "eth2"))
    dockerd.cli("restart", "-t", "0", c)
    wait_until("the route back after the restart",
               lambda: "10.192.0.0/16 via 10.191.1.1 dev eth1" in dockerd.exec(c, "ip", "route").stdout)
    assert "10.191.1.5/24" in dockerd.addresses(c) and "10.191.2.5/24" in dockerd.addresses(c)
    assert (_mac(dockerd, c, "eth1"), _mac(dockerd, c, "eth2")) == macs
    text = service.cli("inspect", c).stdout
    assert "made by wirework" in text and "10.191.2.5/24" in text


def test_once_is_forgotten_at_the_stop_and_a_stop_keeps_the_address_claimed(
        dockerd: PrivateDockerd, service: Service) -> None:
    once = dockerd.run(f"wwt{RUN_ID}rs3", "--net=none")
    kept = dockerd.run(f"wwt{RUN_ID}rs4", "--net=none")
    other = dockerd.run(f"wwt{RUN_ID}rs5", "--net=none")
    service.cli("pipework", "--once", BRIDGE, "-i", "eth1", once, "10.191.3.5/24")
    service.cli("pipework", BRIDGE, "-i", "eth1", kept, "10.191.3.6/24")
    dockerd.cli("stop", "-t", "0", once, kept)
    wait_until("the --once attachment to be forgotten", lambda: not _rows(service, cidr="10.191.3.5/24"))
    wait_until("the kept one to be waiting", lambda: [r["state"] for r in _rows(service, cidr="10.191.3.6/24")] == ["stopped"])
    taken = service.cli("pipework", BRIDGE, "-i", "eth1", other, "10.191.3.6/24", check=False)
    assert taken.returncode == 4 and "already used" in taken.stderr
    service.cli("pipework", BRIDGE, "-i", "eth1", other, "10.191.3.5/24")  # the --once address is free
    dockerd.cli("start", once, kept)
    wait_until("the kept address back", lambda: "10.191.3.6/24" in dockerd.addresses(kept))
    assert "eth1" not in dockerd.exec(once, "ip", "-o", "link").stdout


def test_removal_releases_the_address_and_every_host_side_object(dockerd: PrivateDockerd, service: Service) -> None:
    c = dockerd.run(f"wwt{RUN_ID}rs6", "--net=none")
    service.cli("pipework", BRIDGE, "-i", "eth1", c, "10.191.4.5/24")
    service.cli("pipework", "route", c, "add", "10.193.0.0/16", "via", "10.191.4.1")
    (row,) = _rows(service, cidr="10.191.4.5/24")
    host_end = str(row["host_ifname"])
    dockerd.rm(c)
    wait_until("the attachment to be released", lambda: not _rows(service, cidr="10.191.4.5/24"))
    assert host_end not in subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    c2 = dockerd.run(f"wwt{RUN_ID}rs7", "--net=none")
    service.cli("pipework", BRIDGE, "-i", "eth1", c2, "10.191.4.5/24")  # the address is free again
    from wirework.store.sqlite import SqliteStore

    store = SqliteStore(f"{service.env['WIREWORK_STATE_DIR']}/state.db")
    try:
        assert not [e.key for e in store.scan("gcmd/")]  # the removed container's route is forgotten
    finally:
        store.close()


def test_a_stopped_service_catches_up_and_up_wires_again_without_one(dockerd: PrivateDockerd, service: Service) -> None:
    c = dockerd.run(f"wwt{RUN_ID}rs8", "--net=none")
    service.cli("pipework", BRIDGE, "-i", "eth1", c, "10.191.5.5/24")
    service.stop()
    dockerd.cli("restart", "-t", "0", c)
    # In-process, and starting no service (a command that finds none would start one).
    assert [r["state"] for r in _rows(service, local=True, cidr="10.191.5.5/24")] == ["restarted"]
    service.start()
    wait_until("the resync to wire it again", lambda: "10.191.5.5/24" in dockerd.addresses(c))
    service.stop()
    dockerd.cli("restart", "-t", "0", c)
    report = service.cli("up", local=True).stdout
    assert "wired again with 10.191.5.5/24" in report
    assert "10.191.5.5/24" in dockerd.addresses(c)


def test_network_connections_come_back_too_on_a_namespace_host(dockerd: PrivateDockerd, service: Service,
                                                                netns: object) -> None:
    host = netns("rh")  # type: ignore[operator]
    service.cli("network", "create", "rnet", "--subnet", "10.191.6.0/24", "--netns", host)
    c = dockerd.run(f"wwt{RUN_ID}rs9", "--net=none")
    service.cli("connect", "rnet", c, "--ip", "10.191.6.20", "-p", "8080:80", "--default-route", "--netns", host)
    dockerd.cli("restart", "-t", "0", c)
    wait_until("the connection back after the restart", lambda: "10.191.6.20/24" in dockerd.addresses(c))
    assert "default via 10.191.6.1" in dockerd.exec(c, "ip", "route").stdout
    assert "80/tcp -> 0.0.0.0:8080" in service.cli("port", c, "--netns", host).stdout
    dockerd.rm(c)
    wait_until("the lease released after the removal",
               lambda: not json.loads(service.cli("network", "inspect", "rnet", "--netns", host, "--json").stdout)["leases"])

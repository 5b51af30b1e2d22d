"""wirework as Docker's network and IPAM driver (issue 10, item 1), on a private dockerd.

`docker network create -d P --ipam-driver P` makes a wirework network (subnet from wirework's
planner, bridge, NAT, isolation); `docker run`, `network connect/disconnect`, `rm` and `network
rm` go through wirework's IPAM, bridges and published ports; names and aliases resolve through
Docker's embedded DNS; `wirework ls/inspect/network ls` show what Docker made. P is a plugin
name unique to this test run (the socket /run/docker/plugins/P.sock), served by a service of
this module's own, so nothing here touches the machine's dockerd or another engineer's plugin.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.conftest import RUN_ID
from tests.system.conftest import Service, plugin_call, store_dump
from tests.system.dockerd import PrivateDockerd, wait_until

POOLS = "10.190.0.0/16:24"


@pytest.fixture(scope="module")
def plugin(dockerd: PrivateDockerd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    state = tmp_path_factory.mktemp("plugin-state")
    svc = Service(str(state), dockerd.host, plugin=True, WIREWORK_ADDRESS_POOLS=POOLS)
    svc.start()
    yield svc
    dockerd.remove_all()
    svc.remove()


def _name(label: str) -> str:
    return f"wwt{RUN_ID}{label}"


def _net(dockerd: PrivateDockerd, plugin: Service, label: str, *opts: str) -> str:
    """A network of the plugin, once wirework learned its name (from Docker's event: later)."""
    name = _name(label)
    dockerd.network_create(name, "-d", plugin.plugin, "--ipam-driver", plugin.plugin, *opts)
    wait_until(f"wirework to learn the name {name}",
               lambda: any(r["docker_name"] == name for r in _json(plugin, "network", "ls")))
    return name


def _links() -> str:
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout


def _mac(dockerd: PrivateDockerd, name: str) -> str:
    return dockerd.exec(name, "cat", "/sys/class/net/eth0/address").stdout.strip()


def _json(plugin: Service, *argv: str) -> object:
    return json.loads(plugin.cli(*argv, "--json").stdout)


def test_docker_network_with_containers_names_and_aliases(dockerd: PrivateDockerd, plugin: Service) -> None:
    net = _net(dockerd, plugin, "pn1")
    (row,) = [r for r in _json(plugin, "network", "ls") if r["docker_name"] == net]
    assert row["made_by"] == "docker" and row["subnet"].startswith("10.190.")
    prefix = row["subnet"].rsplit(".", 1)[0]
    c1 = dockerd.run(_name("pc1"), "--net", net, "--mac-address", "02:42:0a:be:00:32", "--network-alias", "web")
    c2 = dockerd.run(_name("pc2"), "--net", net)
    assert f"inet {prefix}." in dockerd.addresses(c1) and _mac(dockerd, c1) == "02:42:0a:be:00:32"
    assert f"default via {row['gateway']} dev eth0" in dockerd.exec(c1, "ip", "route").stdout
    for target in (c1, "web"):  # Docker's embedded DNS serves remote-driver networks too
        assert dockerd.exec(c2, "ping", "-c", "1", "-W", "2", target).returncode == 0, target
    assert dockerd.exec(c1, "ping", "-c", "1", "-W", "2", c2).returncode == 0
    ours = [r for r in _json(plugin, "ls") if r["made_by"] == "docker"]
    assert sorted(r["cidr"].split("/")[0].rsplit(".", 1)[0] for r in ours) == [prefix, prefix]
    assert all(r["state"] == "ok" and r["guest_ifname"] == "eth0" for r in ours)
    wait_until("the containers' names on the records",
               lambda: {g["guest"] for g in plugin.cli("network", "inspect", net, "--json") and
                        json.loads(plugin.cli("network", "inspect", net, "--json").stdout)["guests"]} == {c1, c2})
    text = plugin.cli("inspect", c1).stdout
    assert "made by Docker (wirework network driver)" in text and f"{prefix}." in text
    findings = json.loads(plugin.cli("doctor", "--json", check=False).stdout or "[]")
    mentions = (row["bridge"], row["name"], net, c1, c2, "endpoint ")
    assert not [f for f in findings if any(m in json.dumps(f) for m in mentions)], findings
    check = plugin.cli("check", check=False)
    assert "Traceback" not in check.stderr and check.returncode in (0, 1), check.stderr
    for argv, fix in ((("network", "rm", net), f"docker network rm {net}"),
                      (("disconnect", net, c2), f"docker network disconnect {net} {c2}")):
        refused = plugin.cli(*argv, check=False)
        assert refused.returncode == 4 and fix in refused.stderr and len(refused.stderr.splitlines()) == 1


def test_published_ports_connect_disconnect_restart_rm(dockerd: PrivateDockerd, plugin: Service) -> None:
    net = _net(dockerd, plugin, "pn2", "--subnet", "10.190.200.0/24", "--gateway", "10.190.200.254")
    side = _net(dockerd, plugin, "pn3", "--internal")
    web = dockerd.run(_name("pweb"), "--net", net, "--ip", "10.190.200.10", "-p", "127.0.0.1:18790:80",
                      command=("sh", "-c", "echo hello-wirework > /tmp/index.html; httpd -f -p 80 -h /tmp"))
    wait_until("the published port to answer", lambda: "hello-wirework" in _http_get("127.0.0.1", 18790))
    ports = plugin.cli("port", web).stdout
    assert "80/tcp -> 127.0.0.1:18790" in ports
    dockerd.cli("network", "connect", side, web)
    assert "eth1" in dockerd.exec(web, "ip", "-o", "link").stdout
    side_ip = next(ln for ln in dockerd.addresses(web).splitlines() if "eth1" in ln).split()[3]
    dockerd.cli("network", "disconnect", side, web)
    assert "eth1" not in dockerd.exec(web, "ip", "-o", "link").stdout
    dump = store_dump(plugin.state_dir, ("ipam/",))
    assert not [k for k, v in dump.items() if "/ip/" in k and v["ip"] == side_ip.split("/")[0]]  # lease released
    dockerd.cli("restart", "-t", "0", web)
    assert "inet 10.190.200.10/24" in dockerd.addresses(web)
    wait_until("the port again after the restart", lambda: "hello-wirework" in _http_get("127.0.0.1", 18790))
    def records() -> dict[str, object]:  # (IPAM's memory of last addresses and its cursor aside)
        dump = store_dump(plugin.state_dir, ("ep/", "att/", "ipam/", "ip/"))
        return {k: v for k, v in dump.items() if "/last/" not in k and not k.endswith("/cursor")}

    before = records()
    dockerd.containers.append(_name("pdup"))
    taken = dockerd.cli("run", "-d", "--name", _name("pdup"), "--net", net, "-p", "127.0.0.1:18790:80",
                        "wirework-busybox:latest", "sleep", "60", check=False)
    assert taken.returncode != 0 and "host port 127.0.0.1:18790 is already published" in taken.stderr
    assert len(taken.stderr.strip().splitlines()) == 1, taken.stderr
    wait_until("the refused start to be rolled back", lambda: records() == before)
    (host_end,) = [r["host_ifname"] for r in _json(plugin, "ls") if r["cidr"] == "10.190.200.10/24"]
    dockerd.rm(web)
    assert host_end not in _links()
    assert not [r for r in _json(plugin, "ls") if r["cidr"] == "10.190.200.10/24"]
    assert _http_get("127.0.0.1", 18790) == ""
    bridge = next(r["bridge"] for r in _json(plugin, "network", "ls") if r["docker_name"] == net)
    for name in (net, side):
        dockerd.cli("network", "rm", name)
        dockerd.networks.remove(name)
    assert bridge not in _links()
    left = store_dump(plugin.state_dir, ("net/", "ep/", "att/", "ipam/", "subnetres/", "ip/"))
    assert not [k for k in left if "pn2" in str(left[k]) or bridge in str(left[k])]


def _http_get(host: str, port: int) -> str:
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.settimeout(2)
            s.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
            chunks = []
            while chunk := s.recv(4096):
                chunks.append(chunk)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""


def _world(dockerd: PrivateDockerd, plugin: Service) -> tuple[object, ...]:
    """Docker's networks, the store, and the links only the plugin makes (a Docker network's
    bridge ww-<id>, the end of a veth made for Docker wwd<id>): other engineers' tests make links
    in the root namespace at the same time."""
    nets = dockerd.cli("network", "ls", "--format", "{{.Name}}").stdout
    names = (ln.split(":")[1].strip().split("@")[0] for ln in _links().splitlines())
    links = sorted(n for n in names if re.fullmatch(r"ww-[0-9a-f]{12}|wwd[0-9a-f]{12}", n))
    return nets, links, store_dump(plugin.state_dir)


@pytest.mark.parametrize(("label", "opts", "message"), [
    ("unknown option", ("-o", "wirework.colour=blue"), "network option 'wirework.colour' is invalid"),
    ("subnet taken", ("--subnet", "SUBNET"), "overlaps wirework network"),
    ("gateway outside", ("--subnet", "10.190.222.0/24", "--gateway", "10.190.223.1"), "gateway"),
    ("ipv6", ("--ipv6", "--subnet", "fd00:1::/64"), "IPv6"),
    ("bad ipam option", ("--ipam-opt", "colour=blue"), "IPAM option 'colour' is invalid"),
    ("cluster driver without a store", ("-o", "wirework.driver=vxlan", "--subnet", "10.191.0.0/16"),
     "needs the store the hosts share: start the service with it ('wirework service start --store etcd://"),
])
def test_refused_requests_say_one_line_and_change_nothing(dockerd: PrivateDockerd, plugin: Service, label: str,
                                                          opts: tuple[str, ...], message: str) -> None:
    taken = _net(dockerd, plugin, f"pt{abs(hash(label)) % 1000}")
    subnet = next(r["subnet"] for r in _json(plugin, "network", "ls") if r["docker_name"] == taken)
    opts = tuple(subnet if o == "SUBNET" else o for o in opts)
    before = _world(dockerd, plugin)
    done = dockerd.cli("network", "create", "-d", plugin.plugin, "--ipam-driver", plugin.plugin, *opts,
                       _name("refused"), check=False)
    assert done.returncode != 0 and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert _world(dockerd, plugin) == before
    dockerd.cli("network", "rm", taken)
    dockerd.networks.remove(taken)


def test_an_address_outside_the_pool_is_refused_by_ipam(dockerd: PrivateDockerd, plugin: Service) -> None:
    net = _net(dockerd, plugin, "pn4", "--subnet", "10.190.210.0/24")
    pool = "wirework:10.190.210.0/24"
    before = store_dump(plugin.state_dir)
    status, answer = plugin_call(plugin.plugin, "IpamDriver.RequestAddress",
                                 {"PoolID": pool, "Address": "10.190.211.5", "Options": {}})
    assert status == 200 and "outside network" in str(answer["Error"]) and "10.190.211.5" in str(answer["Error"])
    status, answer = plugin_call(plugin.plugin, "IpamDriver.RequestPool", {"Pool": "10.190.210.0/25", "V6": False})
    assert "overlaps wirework network" in str(answer["Error"])
    assert store_dump(plugin.state_dir) == before
    dockerd.cli("network", "rm", net)
    dockerd.networks.remove(net)


def test_every_call_is_idempotent_under_dockers_retries(plugin: Service) -> None:
    """Each call made twice (the plugin answered, the answer was lost, Docker asked again)."""
    nid, eid = "ab" * 32, "cd" * 32
    calls: list[tuple[str, dict[str, object]]] = [
        ("IpamDriver.RequestPool", {"Pool": "10.190.230.0/24", "SubPool": "", "V6": False}),
        ("IpamDriver.RequestAddress", {"PoolID": "wirework:10.190.230.0/24", "Address": "",
                                       "Options": {"RequestAddressType": "com.docker.network.gateway"}}),
        ("NetworkDriver.CreateNetwork", {"NetworkID": nid, "Options": {"com.docker.network.generic": {}},
                                         "IPv4Data": [{"Pool": "10.190.230.0/24", "Gateway": "10.190.230.1/24"}]}),
        ("IpamDriver.RequestAddress", {"PoolID": "wirework:10.190.230.0/24", "Address": "",
                                       "Options": {"com.docker.network.endpoint.macaddress": "02:42:0a:be:e6:02"}}),
        ("NetworkDriver.CreateEndpoint", {"NetworkID": nid, "EndpointID": eid,
                                          "Interface": {"Address": "10.190.230.2/24", "MacAddress": "02:42:0a:be:e6:02"}}),
        ("NetworkDriver.Join", {"NetworkID": nid, "EndpointID": eid, "SandboxKey": "/nonexistent", "Options": {}}),
        ("NetworkDriver.ProgramExternalConnectivity", {"NetworkID": nid, "EndpointID": eid, "Options": {
            "com.docker.network.portmap": [{"Proto": 6, "Port": 80, "HostIP": "127.0.0.1", "HostPort": 0,
                                            "HostPortEnd": 0}]}}),
    ]
    answers = []
    for method, body in calls:
        first, again = plugin_call(plugin.plugin, method, body), plugin_call(plugin.plugin, method, body)
        assert first == again and first[0] == 200 and "Err" not in first[1] and "Error" not in first[1], (method, first)
        answers.append(first[1])
    assert answers[3]["Address"] == "10.190.230.2/24"
    peer = answers[5]["InterfaceName"]["SrcName"]
    assert peer in _links()
    once = store_dump(plugin.state_dir)
    for method, body in [("NetworkDriver.RevokeExternalConnectivity", {"NetworkID": nid, "EndpointID": eid}),
                         ("NetworkDriver.Leave", {"NetworkID": nid, "EndpointID": eid}),
                         ("NetworkDriver.DeleteEndpoint", {"NetworkID": nid, "EndpointID": eid}),
                         ("IpamDriver.ReleaseAddress", {"PoolID": "wirework:10.190.230.0/24", "Address": "10.190.230.2"}),
                         ("IpamDriver.ReleaseAddress", {"PoolID": "wirework:10.190.230.0/24", "Address": "10.190.230.1"}),
                         ("IpamDriver.ReleasePool", {"PoolID": "wirework:10.190.230.0/24"}),
                         ("NetworkDriver.DeleteNetwork", {"NetworkID": nid})]:
        for _ in range(2):
            status, answer = plugin_call(plugin.plugin, method, body)
            assert status == 200 and answer == {}, (method, answer)
    assert once != store_dump(plugin.state_dir)
    assert not [k for k in store_dump(plugin.state_dir) if "10.190.230" in k or nid[:12] in k]
    assert peer not in _links() and f"ww-{nid[:12]}" not in _links()
    assert plugin_call(plugin.plugin, "NetworkDriver.Frobnicate", {})[0] == 404
    time.sleep(0)  # (nothing to wait for: every answer above came after its change)


def test_a_network_whose_bridge_went_is_built_again_at_the_next_join(dockerd: PrivateDockerd, plugin: Service) -> None:
    """After a reboot Docker may start containers before anyone runs `wirework up`."""
    net = _net(dockerd, plugin, "pn5", "--subnet", "10.190.215.0/24")
    bridge = next(r["bridge"] for r in _json(plugin, "network", "ls") if r["docker_name"] == net)
    subprocess.run(["ip", "link", "del", bridge], check=True)
    c = dockerd.run(_name("pc5"), "--net", net)
    assert "inet 10.190.215." in dockerd.addresses(c)
    assert f"{bridge}:" in _links() and "10.190.215.1/24" in subprocess.run(
        ["ip", "-o", "-4", "addr", "show", "dev", bridge], capture_output=True, text=True).stdout
    dockerd.rm(c)
    dockerd.cli("network", "rm", net)
    dockerd.networks.remove(net)

"""wirework as a CNI plugin, driven as runtimes drive it: environment + stdin, exit status +
stdout JSON, against throwaway namespaces ("host" via WIREWORK_NETNS, "containers" as CNI_NETNS)."""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Namespaces, ping, sh
from tests.ns.cni import Cni, conf
from tests.ns.helpers import world


@pytest.fixture(scope="module")
def cni_bin(tmp_path_factory: pytest.TempPathFactory) -> str:
    from wirework.cni.install import install

    folder = str(tmp_path_factory.mktemp("cnibin"))
    install(folder)
    return folder


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One resident service for the module (in the root namespace; each test names its host
    namespace in WIREWORK_NETNS): most calls go through it, as runtimes' calls would."""
    sock = str(tmp_path_factory.mktemp("svc") / "svc.sock")
    proc = subprocess.Popen([sys.executable, "-m", "wirework.cli.main", "service", "run", "--socket", sock,
                             "--no-docker-events"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(sock):
            assert time.monotonic() < deadline and proc.poll() is None, "the service did not start"
            time.sleep(0.05)
        yield sock
    finally:
        proc.terminate()
        proc.wait(timeout=60)


@pytest.fixture
def cni(cni_bin: str, netns: Namespaces, state_dir: str, service: str) -> Cni:
    return Cni(cni_bin, netns("host"), state_dir, service)


#: In-process, as without a service (needed for WIREWORK_FAIL_AT=crash:N, which the service ignores).
LOCAL = {"WIREWORK_NO_SERVICE": "1"}


def _same(before: str, after: str) -> None:
    assert after == before, "\n".join(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm=""))


def _world(cni: Cni, guests: list[str]) -> str:
    # The allocation cursor moves on every ADD; it is a hint, not state that must stay put.
    text = world(cni.host, guests, cni.state_dir)
    return "\n".join(ln for ln in text.splitlines() if "/cursor=" not in ln)


def _links(ns: str) -> list[str]:
    return sorted(ln.split(": ")[1].split("@")[0] for ln in sh("ip", "-o", "link", ns=ns).splitlines())


def _store_keys(cni: Cni) -> list[str]:
    from wirework.store.sqlite import SqliteStore

    store = SqliteStore(f"{cni.state_dir}/state.db")
    try:
        return [e.key for e in store.scan("") if not e.key.endswith("/cursor")]
    finally:
        store.close()


@pytest.mark.parametrize("version,how", [("0.4.0", "in-process"), ("1.1.0", "service")])
def test_add_check_del_round_trip(cni: Cni, netns: Namespaces, version: str, how: str) -> None:
    if how == "in-process":
        cni.extra_env.update(LOCAL)
    c = netns("c")
    path = f"/run/netns/{c}"
    net = conf("rt", version, subnet="10.131.0.0/24")
    res = cni.ok("ADD", net, cid="ctr1", netns=path)
    mac = sh("cat", "/sys/class/net/eth0/address", ns=c).strip()
    ip = {"address": "10.131.0.2/24", "gateway": "10.131.0.1", "interface": 2}
    assert res["cniVersion"] == version
    assert res["ips"] == [{"version": "4", **ip} if version == "0.4.0" else ip]
    assert res["routes"] == [{"dst": "0.0.0.0/0", "gw": "10.131.0.1"}]
    names = [(i["name"], i.get("sandbox")) for i in res["interfaces"]]
    assert names[0] == ("ww-rt", None) and names[1][0].startswith("wwv") and names[2] == ("eth0", path)
    assert res["interfaces"][2]["mac"] == mac
    assert ("mtu" in res["interfaces"][2]) == (version == "1.1.0")
    assert ping(c, "10.131.0.1") and "default via 10.131.0.1 dev eth0" in sh("ip", "route", ns=c)
    check = cni.call("CHECK", {**net, "prevResult": res}, cid="ctr1", netns=path)
    assert (check.code, check.stdout) == (0, "")
    for _ in range(2):  # DEL twice: both succeed
        done = cni.call("DEL", {**net, "prevResult": res}, cid="ctr1", netns=path)
        assert (done.code, done.stdout) == (0, "")
    assert _links(c) == ["lo"]
    assert not [link for link in _links(cni.host) if link.startswith("wwv")]
    assert _store_keys(cni) == [f"net/{cni.host}/rt"]  # the network stays; nothing of the container


def test_config_list_with_prev_result_chaining(cni: Cni, netns: Namespaces) -> None:
    """wirework first, then the reference `tuning` plugin changing the MAC: CHECK accepts the
    later plugin's change (it reads prevResult); a prevResult given to wirework is extended."""
    c = netns("c")
    path = f"/run/netns/{c}"
    conflist = {"cniVersion": "1.0.0", "name": "chain", "plugins": [
        {"type": "wirework", "subnet": "10.132.0.0/24", "capabilities": {"portMappings": True}},
        {"type": "tuning", "capabilities": {"mac": True}, "sysctl": {"net.ipv4.conf.eth0.rp_filter": "2"}}]}
    runtime = {"mac": "0a:58:0a:84:00:99", "portMappings": [{"hostPort": 18080, "containerPort": 80, "protocol": "tcp"}]}
    res = cni.add_list(conflist, "ctr1", path, runtime)
    assert res["interfaces"][2]["mac"] == "0a:58:0a:84:00:99" == sh("cat", "/sys/class/net/eth0/address", ns=c).strip()
    assert [call.code for call in cni.check_list(conflist, "ctr1", path, res, runtime)] == [0, 0]
    sh("ip", "link", "set", "eth0", "address", "0a:58:0a:84:00:98", ns=c)
    assert cni.check_list(conflist, "ctr1", path, res, runtime)[0].error_code() == 100
    cni.del_list(conflist, "ctr1", path, res, runtime)
    assert _links(c) == ["lo"]
    assert "18080" not in sh("nft", "list", "ruleset", ns=cni.host)
    # Later in a chain: the previous plugin's interfaces, IPs and routes are kept; ours follow.
    c2 = netns("c2")
    prev = {"cniVersion": "1.0.0", "interfaces": [{"name": "net1", "sandbox": f"/run/netns/{c2}"}],
            "ips": [{"address": "192.0.2.5/24", "interface": 0}], "routes": [{"dst": "198.51.100.0/24"}],
            "dns": {"nameservers": ["192.0.2.53"]}}
    res2 = cni.ok("ADD", conf("chain", "1.0.0", prevResult=prev), cid="ctr2", netns=f"/run/netns/{c2}", ifname="eth1")
    assert [i["name"] for i in res2["interfaces"]] == ["net1", "ww-chain", res2["interfaces"][2]["name"], "eth1"]
    assert res2["ips"][0] == prev["ips"][0] and res2["ips"][1]["interface"] == 3
    assert res2["routes"][0] == prev["routes"][0] and res2["dns"] == prev["dns"]
    check = cni.call("CHECK", conf("chain", "1.0.0", prevResult=res2), cid="ctr2", netns=f"/run/netns/{c2}", ifname="eth1")
    assert check.code == 0, check.stdout
    cni.ok("DEL", conf("chain", "1.0.0"), cid="ctr2", ifname="eth1")


def test_del_unknown_container_and_gone_netns(cni: Cni, netns: Namespaces) -> None:
    before = _world(cni, [])
    for env in ({}, {"CNI_NETNS": None}, {"CNI_NETNS": "/run/netns/never-was"}):
        done = cni.call("DEL", conf("gone", subnet="10.133.0.0/24"), cid="nobody", env=env)  # type: ignore[arg-type]
        assert (done.code, done.stdout) == (0, "")
    _same(before, _world(cni, []))
    c = netns("c")
    cni.ok("ADD", conf("gone", subnet="10.133.0.0/24", runtimeConfig={
        "portMappings": [{"hostPort": 18081, "containerPort": 80}]}), cid="ctr1", netns=f"/run/netns/{c}")
    sh("ip", "netns", "del", c)  # the runtime removed the namespace before DEL
    for env in ({"CNI_NETNS": f"/run/netns/{c}"}, {"CNI_NETNS": None}):
        done = cni.call("DEL", conf("gone"), cid="ctr1", env=env)  # type: ignore[arg-type]
        assert (done.code, done.stdout) == (0, ""), done.stderr
    assert _store_keys(cni) == [f"net/{cni.host}/gone"]
    assert "18081" not in sh("nft", "list", "ruleset", ns=cni.host)
    assert not [link for link in _links(cni.host) if link.startswith("wwv")]


@pytest.mark.parametrize("damage", ["route", "address", "interface", "port", "host-end"])
def test_check_fails_after_hand_removal(cni: Cni, netns: Namespaces, damage: str) -> None:
    c = netns("c")
    path = f"/run/netns/{c}"
    net = conf("chk", subnet="10.134.0.0/24", runtimeConfig={"portMappings": [{"hostPort": 18082, "containerPort": 80}]})
    res = cni.ok("ADD", net, cid="ctr1", netns=path)
    assert cni.call("CHECK", {**net, "prevResult": res}, cid="ctr1", netns=path).code == 0
    veth = res["interfaces"][1]["name"]
    undo = {
        "route": lambda: sh("ip", "route", "del", "default", ns=c),
        "address": lambda: sh("ip", "addr", "del", "10.134.0.2/24", "dev", "eth0", ns=c),
        "interface": lambda: sh("ip", "link", "del", "eth0", ns=c),
        "port": lambda: sh("nft", "flush", "map", "inet", "wirework", "port_addr", ns=cni.host),
        "host-end": lambda: sh("ip", "link", "set", veth, "nomaster", ns=cni.host),
    }
    undo[damage]()
    check = cni.call("CHECK", {**net, "prevResult": res}, cid="ctr1", netns=path)
    assert check.error_code() == 100
    named = {"route": "default route", "address": "address 10.134.0.2/24", "interface": "interface eth0",
             "port": "published port", "host-end": f"host interface {veth}"}[damage]
    assert named in check.out["details"] and check.out["cniVersion"] == "1.1.0"
    cni.ok("DEL", net, cid="ctr1", netns=path)


def test_gc_removes_unlisted_and_what_a_killed_add_left(cni: Cni, netns: Namespaces) -> None:
    c1, c2, c3 = netns("c1"), netns("c2"), netns("c3")
    ports = {"portMappings": [{"hostPort": 18083, "containerPort": 80}, {"hostPort": 18084, "containerPort": 81}]}
    net = conf("gcnet", subnet="10.135.0.0/24")
    res1 = cni.ok("ADD", net, cid="keep", netns=f"/run/netns/{c1}")
    cni.ok("ADD", {**net, "runtimeConfig": ports}, cid="drop", netns=f"/run/netns/{c2}")
    gc = {**net, "cni.dev/valid-attachments": [{"containerID": "keep", "ifname": "eth0"}]}
    done = cni.call("GC", gc)
    assert (done.code, done.stdout) == (0, "") and "drop/eth0" in done.stderr
    assert _links(c2) == ["lo"] and "18083" not in sh("nft", "list", "ruleset", ns=cni.host)
    assert cni.call("CHECK", {**net, "prevResult": res1}, cid="keep", netns=f"/run/netns/{c1}").code == 0
    before = _world(cni, [c1, c3])
    # The plan of this ADD: veth, address, default route, two ports. Killed before the address,
    # and between the two ports; then GC (or DEL) with the runtime's list puts everything back.
    for step, cleanup in ((1, "GC"), (4, "GC"), (4, "DEL")):
        done = cni.call("ADD", {**net, "runtimeConfig": ports}, cid="killed", netns=f"/run/netns/{c3}",
                        env={**LOCAL, "WIREWORK_FAIL_AT": f"crash:{step}"})
        assert (done.code, done.stdout) == (137, "")
        assert "eth0" in _links(c3)  # half-made
        if cleanup == "GC":
            assert cni.call("GC", gc).code == 0
        else:
            assert cni.call("DEL", net, cid="killed", netns=f"/run/netns/{c3}").code == 0
        _same(before, _world(cni, [c1, c3]))


def test_add_killed_while_creating_its_network_is_undone_by_gc(cni: Cni, netns: Namespaces) -> None:
    c = netns("c")
    net = conf("gcnew", subnet="10.145.0.0/24")
    before = _world(cni, [c])
    for step in (1, 3):
        done = cni.call("ADD", net, cid="first", netns=f"/run/netns/{c}",
                        env={**LOCAL, "WIREWORK_FAIL_AT": f"crash:{step}"})
        assert (done.code, done.stdout) == (137, "")
        assert cni.call("GC", {**net, "cni.dev/valid-attachments": []}).code == 0
        _same(before, _world(cni, [c]))
    assert cni.call("ADD", net, cid="first", netns=f"/run/netns/{c}").code == 0  # and then it works


def test_status_and_version(cni: Cni, netns: Namespaces) -> None:
    tiny = conf("tiny", subnet="10.136.0.0/30")  # one guest address beside the gateway
    assert cni.call("STATUS", tiny).code == 0
    cni.ok("ADD", tiny, cid="only", netns=f"/run/netns/{netns('c')}")
    status = cni.call("STATUS", tiny)
    assert status.error_code() == 50 and "no free address" in status.out["details"]
    assert cni.call("STATUS", conf("tiny", "1.0.0")).error_code() == 1  # STATUS exists since 1.1.0
    cni.ok("DEL", tiny, cid="only")
    assert cni.call("STATUS", tiny).code == 0
    for stdin, echoed in (('{"cniVersion": "0.4.0"}', "0.4.0"), ("", "1.1.0"), ("not json", "1.1.0")):
        version = cni.call("VERSION", stdin, env={"CNI_CONTAINERID": None, "CNI_NETNS": None, "CNI_IFNAME": None})
        assert version.code == 0
        assert version.out == {"cniVersion": echoed, "supportedVersions": ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]}


def test_bad_input_is_refused_with_the_spec_code_and_changes_nothing(cni: Cni, netns: Namespaces, tmp_path: Path) -> None:
    c, used = netns("c"), netns("used")
    path = f"/run/netns/{c}"
    good = conf("bad", subnet="10.137.0.0/24")
    cni.ok("ADD", {**good, "runtimeConfig": {"portMappings": [{"hostPort": 18085, "containerPort": 80}]}},
           cid="used", netns=f"/run/netns/{used}")
    plain_file = tmp_path / "not-a-netns"
    plain_file.write_text("")
    cases: list[tuple[str, dict[str, str | None], str, int, str]] = [
        ("malformed JSON", {}, '{"cniVersion": "1.1.0", "name": ', 6, "not JSON"),
        ("unknown cniVersion", {}, '{"cniVersion": "9.9.9", "name": "bad", "type": "wirework"}', 1, "9.9.9"),
        ("missing container id", {"CNI_CONTAINERID": None}, "", 4, "CNI_CONTAINERID"),
        ("missing ifname and netns", {"CNI_IFNAME": None, "CNI_NETNS": None}, "", 4, "CNI_NETNS, CNI_IFNAME"),
        ("unknown command", {"CNI_COMMAND": "ATTACH"}, "", 4, "CNI_COMMAND"),
        ("too long ifname", {"CNI_IFNAME": "a-very-long-ifname"}, "", 4, "CNI_IFNAME"),
        ("bad container id", {"CNI_CONTAINERID": "-x/y"}, "", 4, "CNI_CONTAINERID"),
        ("netns that is no netns", {"CNI_NETNS": str(plain_file)}, "", 4, "CNI_NETNS"),
        ("netns of the host", {"CNI_NETNS": f"/run/netns/{cni.host}"}, "", 4, "host's own"),
        ("netns that does not exist", {"CNI_NETNS": "/run/netns/no-such-ns"}, "", 3, "no-such-ns"),
        ("IP outside the subnet", {"CNI_ARGS": "IP=10.99.0.5"}, "", 7, "outside network bad's subnet"),
        ("IP with a wrong prefix", {"CNI_ARGS": "IP=10.137.0.9/16"}, "", 7, "prefix must be /24"),
        ("the gateway as IP", {"CNI_ARGS": "IP=10.137.0.1"}, "", 7, "gateway"),
        ("unknown CNI_ARGS key", {"CNI_ARGS": "FOO=1"}, "", 2, "FOO"),
        ("malformed CNI_ARGS", {"CNI_ARGS": "IP"}, "", 4, "CNI_ARGS"),
        ("unknown config key", {}, '{"cniVersion": "1.1.0", "name": "bad", "type": "wirework", "subnett": "10.1.0.0/24"}',
         2, "did you mean 'subnet'"),
        ("another subnet than stored", {}, '{"cniVersion": "1.1.0", "name": "bad", "type": "wirework", "subnet": "10.138.0.0/24"}',
         7, "already exists with subnet 10.137.0.0/24"),
        ("unknown driver", {}, '{"cniVersion": "1.1.0", "name": "bad", "type": "wirework", "driver": "vxlan"}', 2, "driver"),
        ("published port taken", {}, '{"cniVersion": "1.1.0", "name": "bad", "type": "wirework", "runtimeConfig": '
                                     '{"portMappings": [{"hostPort": 18085, "containerPort": 81}]}}', 11, "already published"),
        ("IP for a new network without subnet", {"CNI_ARGS": "IP=10.139.0.5"},
         '{"cniVersion": "1.1.0", "name": "fresh", "type": "wirework"}', 7, "add 'subnet'"),
        ("CHECK without prevResult", {"CNI_COMMAND": "CHECK"}, "", 7, "prevResult"),
        ("GC before 1.1.0", {"CNI_COMMAND": "GC"}, '{"cniVersion": "1.0.0", "name": "bad", "type": "wirework"}', 1, "GC"),
    ]
    before = _world(cni, [c, used])
    for label, env, stdin, code, words in cases:
        done = cni.call("ADD", stdin or good, cid="ctr1", netns=path, env=env)
        assert done.code != 0, label
        assert done.out["code"] == code and words in done.out["details"], (label, done.out)
        assert set(done.out) == {"cniVersion", "code", "msg", "details"}, label
        _same(before, _world(cni, [c, used]))


def test_port_mappings_publish_for_real(cni: Cni, netns: Namespaces, tmp_path: Path) -> None:
    c, lan = netns("c"), netns("lan")
    sh("ip", "link", "add", "lan0", "type", "veth", "peer", "name", "eth0", "netns", lan, ns=cni.host)
    sh("ip", "addr", "add", "192.0.2.1/24", "dev", "lan0", ns=cni.host)
    sh("ip", "link", "set", "lan0", "up", ns=cni.host)
    sh("ip", "addr", "add", "192.0.2.2/24", "dev", "eth0", ns=lan)
    sh("ip", "link", "set", "eth0", "up", ns=lan)
    net = conf("web", subnet="10.140.0.0/24", runtimeConfig={"portMappings": [
        {"hostPort": 18080, "containerPort": 80, "protocol": "tcp"},
        {"hostPort": 19090, "containerPort": 80, "protocol": "tcp", "hostIP": "127.0.0.1"}]})
    cni.ok("ADD", net, cid="web1", netns=f"/run/netns/{c}")
    (tmp_path / "index.html").write_text("hello from web1\n")
    with _httpd(c, tmp_path):
        assert _get(lan, "192.0.2.1", 18080) == "hello from web1"  # from the LAN
        assert _get(cni.host, "127.0.0.1", 19090) == "hello from web1"  # host-only port, from the host
        assert _get(lan, "192.0.2.1", 19090) is None  # ... and not from the LAN
        cni.ok("DEL", net, cid="web1", netns=f"/run/netns/{c}")
        assert _get(lan, "192.0.2.1", 18080) is None


def test_ips_mac_and_ip_arg_are_honoured(cni: Cni, netns: Namespaces) -> None:
    net = conf("pick", subnet="10.141.0.0/24")
    a, b, d = netns("a"), netns("b"), netns("d")
    res = cni.ok("ADD", {**net, "runtimeConfig": {"ips": ["10.141.0.50/24"], "mac": "0a:58:0a:8d:00:32"}},
                 cid="a", netns=f"/run/netns/{a}")
    assert res["ips"][0]["address"] == "10.141.0.50/24" and res["interfaces"][2]["mac"] == "0a:58:0a:8d:00:32"
    cni.ok("ADD", net, cid="b", netns=f"/run/netns/{b}", args="IgnoreUnknown=1;K8S_POD_NAME=b;IP=10.141.0.60;MAC=0a:58:0a:8d:00:3c;X=1")
    cni.ok("ADD", {**net, "args": {"cni": {"ips": ["10.141.0.70"]}}}, cid="d", netns=f"/run/netns/{d}", args="IP=10.141.0.71")
    for ns, ip, mac in ((a, "10.141.0.50/24", "0a:58:0a:8d:00:32"), (b, "10.141.0.60/24", "0a:58:0a:8d:00:3c"),
                        (d, "10.141.0.70/24", None)):
        assert f"inet {ip} " in sh("ip", "addr", "show", "eth0", ns=ns)
        if mac:
            assert sh("cat", "/sys/class/net/eth0/address", ns=ns).strip() == mac
    taken = cni.call("ADD", net, cid="e", netns=f"/run/netns/{netns('e')}", args="IP=10.141.0.50")
    assert taken.error_code() == 11 and "already taken" in taken.out["details"]


def test_ipam_delegated_to_host_local(cni: Cni, netns: Namespaces, tmp_path: Path) -> None:
    data = tmp_path / "host-local"
    net = conf("deleg", "1.0.0", ipam={"type": "host-local", "dataDir": str(data), "routes": [{"dst": "0.0.0.0/0"}],
                                       "ranges": [[{"subnet": "10.142.0.0/24", "rangeStart": "10.142.0.100"}]]})
    c = netns("c")
    res = cni.ok("ADD", net, cid="ctr1", netns=f"/run/netns/{c}")
    assert res["ips"][0]["address"] == "10.142.0.100/24" and res["routes"] == [{"dst": "0.0.0.0/0", "gw": "10.142.0.1"}]
    assert (data / "deleg" / "10.142.0.100").read_text().startswith("ctr1")
    assert "default via 10.142.0.1" in sh("ip", "route", ns=c)
    assert cni.call("CHECK", {**net, "prevResult": res}, cid="ctr1", netns=f"/run/netns/{c}").code == 0
    cni.ok("DEL", net, cid="ctr1", netns=f"/run/netns/{c}")
    assert not (data / "deleg" / "10.142.0.100").exists()
    missing = cni.call("ADD", {**net, "ipam": {"type": "no-such-ipam"}}, cid="ctr2", netns=f"/run/netns/{c}")
    assert missing.error_code() == 7 and "no-such-ipam" in missing.out["details"]


def test_served_by_the_resident_service(cni: Cni, netns: Namespaces) -> None:
    assert cni.service is not None
    c = netns("c")
    net = conf("svc", subnet="10.143.0.0/24")
    add = cni.call("ADD", net, cid="ctr1", netns=f"/run/netns/{c}", env={"WIREWORK_TRACE": "1"})
    assert add.code == 0 and "served by the service" in add.stderr, add.stdout
    assert ping(c, "10.143.0.1")
    # A plugin started inside another namespace without WIREWORK_NETNS: the service refuses it.
    env = {**cni.env("STATUS"), "WIREWORK_NETNS": ""}
    elsewhere = subprocess.run(["ip", "netns", "exec", cni.host, f"{cni.bindir}/wirework"], input='{"cniVersion":'
                               '"1.1.0","name":"svc","type":"wirework"}', capture_output=True, text=True, timeout=60,
                               env=env, check=False)
    assert elsewhere.returncode != 0 and '"code": 4' in elsewhere.stdout and "WIREWORK_NETNS" in elsewhere.stdout
    assert cni.call("DEL", net, cid="ctr1").code == 0
    assert _links(c) == ["lo"]


class _httpd:
    def __init__(self, ns: str, root: Path) -> None:
        self.argv = ["ip", "netns", "exec", ns, "busybox", "httpd", "-f", "-p", "80", "-h", str(root)]
        self.ns = ns

    def __enter__(self) -> None:
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import time

        deadline = time.monotonic() + 10
        while _get(self.ns, "127.0.0.1", 80) is None:
            assert time.monotonic() < deadline, "httpd did not start"
            time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self.proc.kill()
        self.proc.wait()


def _get(ns: str, host: str, port: int) -> str | None:
    done = subprocess.run(["ip", "netns", "exec", ns, "curl", "-sf", "--noproxy", "*", "-m", "2", f"http://{host}:{port}/"],
                          capture_output=True, text=True, timeout=20, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def test_concurrent_adds_on_a_new_network(cni: Cni, netns: Namespaces) -> None:
    """Runtimes run ADDs of different containers in parallel: the first ones race to create the network."""
    from concurrent.futures import ThreadPoolExecutor

    cni.extra_env.update(LOCAL)  # separate processes (the service would take them one at a time)
    spaces = [netns(f"p{i}") for i in range(4)]
    net = conf("race", subnet="10.144.0.0/24")
    with ThreadPoolExecutor(4) as pool:
        calls = list(pool.map(lambda i: cni.call("ADD", net, cid=f"p{i}", netns=f"/run/netns/{spaces[i]}"), range(4)))
    assert [c.code for c in calls] == [0, 0, 0, 0], [c.stdout for c in calls]
    addresses = {c.out["ips"][0]["address"] for c in calls}
    assert len(addresses) == 4
    assert all(ping(ns, "10.144.0.1") for ns in spaces)
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(lambda i: cni.call("DEL", net, cid=f"p{i}").code, range(4))) == [0, 0, 0, 0]
    assert _store_keys(cni) == [f"net/{cni.host}/race"]

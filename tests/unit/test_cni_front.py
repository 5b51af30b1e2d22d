"""The CNI front without a kernel: environment and configuration validation, versions, the
exact JSON of results and errors, and the handler's dispatch over a fake session."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from wirework.cni import result, versions
from wirework.cni.config import decode, parse_config
from wirework.cni.env import parse_env
from wirework.cni.handler import handle
from wirework.errors import (
    Conflict,
    DecodingFailure,
    IncompatibleVersion,
    InvalidConfig,
    InvalidEnvironment,
    UnsupportedField,
)
from wirework.guests.cniexec import PluginRun
from wirework.networks.cniops import CniAttachment, CniLink
from wirework.networks.network import Network

ADD_ENV = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1", "CNI_NETNS": "/run/netns/x", "CNI_IFNAME": "eth0"}


def test_env_required_per_command_and_every_missing_name() -> None:
    with pytest.raises(InvalidEnvironment, match="missing for ADD: CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME"):
        parse_env({"CNI_COMMAND": "ADD"})
    assert parse_env({"CNI_COMMAND": "DEL", "CNI_CONTAINERID": "c1", "CNI_IFNAME": "eth0"}).netns == ""
    with pytest.raises(InvalidEnvironment, match="CNI_PATH"):
        parse_env({"CNI_COMMAND": "GC"})
    assert parse_env({"CNI_COMMAND": "VERSION"}).command == "VERSION"
    assert parse_env({"CNI_COMMAND": "STATUS"}).command == "STATUS"
    with pytest.raises(InvalidEnvironment, match="CNI_COMMAND .*unknown command"):
        parse_env({"CNI_COMMAND": "add"})
    for key, value in (("CNI_CONTAINERID", "_x"), ("CNI_IFNAME", "eth0:1"), ("CNI_IFNAME", "x" * 16),
                       ("CNI_NETNS", "relative/path")):
        with pytest.raises(InvalidEnvironment, match=key):
            parse_env({**ADD_ENV, key: value})


def test_cni_args() -> None:
    env = parse_env({**ADD_ENV, "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAME=p;IP=10.0.0.5/24;MAC=0a:00:00:00:00:01;X=y"})
    assert env.args["IP"] == "10.0.0.5/24" and env.args["MAC"] == "0a:00:00:00:00:01"
    assert parse_env({**ADD_ENV, "CNI_ARGS": "K8S_POD_NAMESPACE=ns;IP=10.0.0.5"}).args["IP"] == "10.0.0.5"
    with pytest.raises(UnsupportedField, match="FOO.*IgnoreUnknown=1") as err:
        parse_env({**ADD_ENV, "CNI_ARGS": "FOO=bar"})
    assert err.value.cni_code == 2
    with pytest.raises(InvalidEnvironment, match="CNI_ARGS"):
        parse_env({**ADD_ENV, "CNI_ARGS": "IP"})


def test_config_defaults_options_and_capabilities() -> None:
    data = {"cniVersion": "1.0.0", "name": "web", "type": "wirework", "subnet": "10.1.0.0/24", "ipRange": "10.1.0.128/25",
            "ipMasq": False, "mtu": 1400, "defaultRoute": False, "dns": {"nameservers": ["10.1.0.1"]},
            "runtimeConfig": {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "TCP"},
                                               {"hostPort": 53, "containerPort": 53, "protocol": "udp", "hostIP": "127.0.0.1"}],
                              "ips": ["10.1.0.9"], "mac": "0a:00:00:00:00:02", "aliases": {"web": ["a"]}},
            "args": {"cni": {"ips": ["10.1.0.10"]}}, "cni.dev/anything": 1}
    conf = parse_config(data, "ADD")
    assert (conf.network, conf.driver, conf.default_route, conf.mac, conf.ips) == ("web", "bridge", False,
                                                                                     "0a:00:00:00:00:02", ("10.1.0.9",))
    assert conf.options == {"subnet": "10.1.0.0/24", "ip_range": "10.1.0.128/25", "masquerade": False, "mtu": 1400}
    assert [p.publish_text() for p in conf.ports] == ["8080:80/tcp", "127.0.0.1:53:53/udp"]
    no_runtime = {k: v for k, v in data.items() if k != "runtimeConfig"}
    assert parse_config({**no_runtime, "network": "other"}, "ADD").ips == ("10.1.0.10",)
    assert parse_config({**no_runtime, "network": "other"}, "ADD").network == "other"
    gc = parse_config({**no_runtime, "cni.dev/valid-attachments": [{"containerID": "a", "ifname": "eth0"}]}, "DEL")
    assert gc.valid_attachments == (("a", "eth0"),)


@pytest.mark.parametrize("patch,error,words", [
    ({"subnett": "10.1.0.0/24"}, UnsupportedField, "did you mean 'subnet'"),
    ({"driver": "vxlan"}, UnsupportedField, "known drivers: bridge"),
    ({"mtu": "1400"}, InvalidConfig, "must be a JSON integer"),
    ({"ipMasq": "yes"}, InvalidConfig, "must be a JSON boolean"),
    ({"name": "-bad"}, InvalidConfig, "network name"),
    ({"ipam": {"type": "../x"}}, InvalidConfig, "ipam type"),
    ({"runtimeConfig": {"portMappings": [{"hostPort": "80", "containerPort": 80}]}}, InvalidConfig, "integers"),
    ({"runtimeConfig": {"portMappings": [{"hostPort": 80, "containerPort": 80, "hostIP": "::1"}]}}, UnsupportedField, "IPv4"),
    ({"cni.dev/valid-attachments": [{"containerID": "a"}]}, InvalidConfig, "ifname"),
    ({"cniVersion": "0.2.0"}, IncompatibleVersion, "0.2.0"),
    ({"cniVersion": None}, IncompatibleVersion, "no cniVersion"),
])
def test_config_refusals(patch: dict[str, Any], error: type[Exception], words: str) -> None:
    data = {"cniVersion": "1.1.0", "name": "web", "type": "wirework", **patch}
    with pytest.raises(error, match=words):
        parse_config(data, "ADD")


def test_versions_per_command() -> None:
    assert versions.require("0.3.1", "ADD") == "0.3.1"
    for command, old in (("CHECK", "0.3.1"), ("GC", "1.0.0"), ("STATUS", "1.0.0")):
        with pytest.raises(IncompatibleVersion, match=f"for {command}"):
            versions.require(old, command)
    with pytest.raises(DecodingFailure, match="not JSON"):
        decode("{")
    with pytest.raises(DecodingFailure, match="not a JSON object"):
        decode("[]")


def _attachment(default_route: bool = True) -> CniAttachment:
    net = Network("web", "-", "ww-web", "10.1.0.0/24", "10.1.0.1", mtu=None)
    return CniAttachment(net, CniLink("ww-web", "0a:00:00:00:00:0b", 1500), CniLink("wwvabc", "0a:00:00:00:00:0c", 1500),
                         CniLink("eth0", "02:00:00:00:00:0d", 1500, "/run/netns/c"), "10.1.0.2/24", default_route)


GOLDEN_1_1 = """{
 "cniVersion": "1.1.0",
 "interfaces": [
  {
   "name": "ww-web",
   "mac": "0a:00:00:00:00:0b",
   "mtu": 1500
  },
  {
   "name": "wwvabc",
   "mac": "0a:00:00:00:00:0c",
   "mtu": 1500
  },
  {
   "name": "eth0",
   "mac": "02:00:00:00:00:0d",
   "mtu": 1500,
   "sandbox": "/run/netns/c"
  }
 ],
 "ips": [
  {
   "address": "10.1.0.2/24",
   "gateway": "10.1.0.1",
   "interface": 2
  }
 ],
 "routes": [
  {
   "dst": "0.0.0.0/0",
   "gw": "10.1.0.1"
  }
 ],
 "dns": {
  "nameservers": [
   "10.1.0.1"
  ]
 }
}
"""


def test_add_result_golden_and_per_version() -> None:
    assert result.to_json(result.add_result("1.1.0", _attachment(), None, {"nameservers": ["10.1.0.1"]})) == GOLDEN_1_1
    old = result.add_result("0.4.0", _attachment(False), None, None)
    assert old["ips"] == [{"version": "4", "address": "10.1.0.2/24", "gateway": "10.1.0.1", "interface": 2}]
    assert "mtu" not in old["interfaces"][2] and "routes" not in old and "dns" not in old
    prev = {"cniVersion": "0.4.0", "interfaces": [{"name": "x"}], "ips": [{"version": "4", "address": "192.0.2.1/24",
                                                                          "interface": 0}]}
    chained = result.add_result("1.0.0", _attachment(), prev, None)
    assert chained["ips"][0] == {"address": "192.0.2.1/24", "interface": 0} and chained["ips"][1]["interface"] == 3
    assert prev["ips"][0]["version"] == "4"  # the input is not modified
    assert result.ips_for(chained, "eth0", "/run/netns/c") == ["10.1.0.2/24"]
    assert result.mac_for(chained, "eth0", "/run/netns/c") == "02:00:00:00:00:0d"
    assert result.mac_for(chained, "eth0", "/run/netns/other") is None


def test_error_json() -> None:
    err = result.error("1.0.0", Conflict("address 10.1.0.5 is taken"))
    assert err == {"cniVersion": "1.0.0", "code": 11, "msg": "try again later", "details": "address 10.1.0.5 is taken"}


# -- the handler over a fake session -------------------------------------------------------
@dataclass
class FakeCni:
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    fail_add: Exception | None = None
    ipam_stdout: str = '{"cniVersion": "1.0.0", "ips": [{"address": "10.9.0.7/24", "gateway": "10.9.0.1"}], ' \
                       '"routes": [{"dst": "0.0.0.0/0"}]}'
    ipam_code: int = 0

    def add(self, *args: Any, **kw: Any) -> CniAttachment:
        self.calls.append(("add", (*args, tuple(sorted(kw.items())))))
        if self.fail_add is not None:
            raise self.fail_add
        return _attachment()

    def delete(self, *args: Any) -> list[str]:
        self.calls.append(("delete", args))
        return []

    def check(self, *args: Any) -> None:
        self.calls.append(("check", args))

    def gc(self, *args: Any) -> tuple[list[str], list[str]]:
        self.calls.append(("gc", args))
        return [], []

    def status(self, *args: Any) -> None:
        self.calls.append(("status", args))

    def delegate(self, plugin: str, command: str, env: Any, stdin: str) -> PluginRun:
        self.calls.append(("delegate", (plugin, command)))
        return PluginRun(self.ipam_code, self.ipam_stdout, "")


@dataclass
class FakeSession:
    cni: FakeCni = field(default_factory=FakeCni)


def _run(env: dict[str, str], conf: dict[str, Any] | str, session: FakeSession) -> tuple[int, dict[str, Any]]:
    stdin = conf if isinstance(conf, str) else json.dumps(conf)
    code, out = handle(env, stdin, lambda netns, state: session)
    return code, json.loads(out) if out.strip() else {}


def _netns_env(tmp_path: Path) -> dict[str, str]:
    """ADD's namespace checks need a real netns file other than the host's: /proc/1's is one
    only when this runs in another namespace, so point the "host" elsewhere instead."""
    return {**ADD_ENV, "CNI_NETNS": "/proc/self/ns/net", "WIREWORK_NETNS": str(tmp_path / "no-host")}


def test_handler_dispatch(tmp_path: Path) -> None:
    s = FakeSession()
    base = {"cniVersion": "1.1.0", "name": "web", "type": "wirework"}
    code, out = _run(_netns_env(tmp_path), {**base, "runtimeConfig": {"portMappings": [{"hostPort": 1, "containerPort": 2}]}}, s)
    assert code == 0 and out["ips"][0]["address"] == "10.1.0.2/24"
    assert s.cni.calls[0][0] == "add" and ("publish", ("1:2/tcp",)) in s.cni.calls[0][1][-1]
    assert _run({**ADD_ENV, "CNI_COMMAND": "DEL"}, base, s) == (0, {})
    prev = result.add_result("1.1.0", _attachment(), None, None)
    assert _run({**_netns_env(tmp_path), "CNI_COMMAND": "CHECK", "CNI_NETNS": "/run/netns/c"}, {**base, "prevResult": prev},
                s)[1]["code"] == 3  # that namespace does not exist here
    gc = {**base, "cni.dev/valid-attachments": [{"containerID": "c9", "ifname": "eth0"}]}
    assert _run({"CNI_COMMAND": "GC", "CNI_PATH": "/x"}, gc, s) == (0, {})
    assert s.cni.calls[-1] == ("gc", ("web", (("c9", "eth0"),)))
    assert _run({"CNI_COMMAND": "STATUS"}, base, s) == (0, {})


def test_handler_namespace_checks_and_internal_errors(tmp_path: Path) -> None:
    s = FakeSession()
    base = json.dumps({"cniVersion": "1.0.0", "name": "web", "type": "wirework"})
    plain = tmp_path / "plain"
    plain.write_text("")
    assert _run({**ADD_ENV, "CNI_NETNS": str(plain)}, base, s)[1]["code"] == 4
    assert _run({**ADD_ENV, "CNI_NETNS": "/proc/self/ns/net"}, base, s)[1]["details"].endswith(
        "it is the host's own network namespace; give the container's")
    assert _run({**ADD_ENV, "WIREWORK_CLIENT_NETNS": "1:2"}, base, s)[1]["code"] == 4
    s.cni.fail_add = ZeroDivisionError("boom")
    code, out = _run(_netns_env(tmp_path), base, s)
    assert (code, out["code"], out["cniVersion"]) == (1, 999, "1.0.0") and "ZeroDivisionError: boom" in out["details"]
    assert not any(call[0] == "delegate" for call in s.cni.calls)


def test_handler_delegates_ipam(tmp_path: Path) -> None:
    s = FakeSession()
    conf = {"cniVersion": "1.0.0", "name": "web", "type": "wirework", "ipam": {"type": "host-local"}}
    code, out = _run(_netns_env(tmp_path), conf, s)
    assert code == 0 and s.cni.calls[0] == ("delegate", ("host-local", "ADD"))
    kwargs = dict(s.cni.calls[1][1][-1])
    assert kwargs["ip"] == "10.9.0.7/24" and kwargs["default_route"] is None  # the IPAM plugin asks for a default route
    assert s.cni.calls[1][1][1] == {"subnet": "10.9.0.0/24", "gateway": "10.9.0.1"}
    s.cni.calls.clear()
    s.cni.fail_add = Conflict("taken")
    assert _run(_netns_env(tmp_path), conf, s)[1]["code"] == 11
    assert [c for c in s.cni.calls if c[0] == "delegate"] == [("delegate", ("host-local", "ADD")),
                                                              ("delegate", ("host-local", "DEL"))]
    s.cni.ipam_code, s.cni.ipam_stdout = 1, '{"code": 11, "msg": "no IP addresses available", "details": "range full"}'
    code, out = _run(_netns_env(tmp_path), conf, s)
    assert (code, out["code"]) == (1, 11) and out["details"] == \
        "IPAM plugin host-local failed: no IP addresses available: range full"


def test_install_writes_an_executable_launcher(tmp_path: Path) -> None:
    from wirework.cni.install import install

    path = install(str(tmp_path / "bin"), python="/opt/py/bin/python")
    text = Path(path).read_text()
    assert text.startswith("#!/opt/py/bin/python -SE\n") and "from wirework.cli.main import main" in text
    assert str(Path(__file__).parents[2] / "src") in text  # where wirework is, without a site scan
    assert os.access(path, os.X_OK) and Path(path).name == "wirework"
    install(str(tmp_path / "bin"), python="/opt/py/bin/python")  # again: replaced, no leftovers
    assert sorted(p.name for p in (tmp_path / "bin").iterdir()) == ["wirework"]


def test_cli_treats_an_argumentless_run_with_cni_command_as_the_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    from wirework.cli import main

    assert main._wants_stdin(["cni", "plugin"]) and "CNI_" in main.FORWARDED_ENV_PREFIXES
    seen: list[list[str]] = []
    monkeypatch.setattr(main, "_via_service", lambda argv: seen.append(argv) or 0)
    monkeypatch.setenv("CNI_COMMAND", "VERSION")
    monkeypatch.setenv("WIREWORK_CLIENT_NETNS", "")  # main sets it: restored after the test
    assert main.main([]) == 0 and seen == [["cni", "plugin"]]
    assert os.environ["WIREWORK_CLIENT_NETNS"].count(":") == 1

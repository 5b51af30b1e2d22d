from __future__ import annotations

import os
from pathlib import Path

import pytest

from wirework.cli.wire import decode_answer, decode_request, encode_answer, encode_request
from wirework.service.daemon import handle


def test_wire_round_trip() -> None:
    raw = encode_request(["pipework", "br0", "", "é"], {"WIREWORK_STATE_DIR": "/x=y"}, "/tmp", None)
    assert decode_request(raw) == (["pipework", "br0", "", "é"], {"WIREWORK_STATE_DIR": "/x=y"}, "/tmp", None)
    raw = encode_request([], {}, "/", "input\n")
    assert decode_request(raw)[3] == "input\n"
    assert decode_answer(encode_answer(-3, "out", "err")) == (-3, "out", "err")


def test_handle_runs_the_cli_with_the_request_environment(tmp_path: Path) -> None:
    before = {k: v for k, v in os.environ.items() if k.startswith("WIREWORK_")}
    answer = handle({"argv": ["attach"], "env": {"WIREWORK_STATE_DIR": "/nonexistent"}, "cwd": "/"})
    assert answer["exit"] == 2 and "usage" in answer["stderr"]
    env = {"WIREWORK_STATE_DIR": str(tmp_path)}
    answer = handle({"argv": ["attach", "g", "br0", "--ip", "10.0.0.1"], "env": env, "cwd": "/"})
    assert answer["exit"] == 2 and answer["stderr"].startswith("wirework: address '10.0.0.1' is invalid")
    assert {k: v for k, v in os.environ.items() if k.startswith("WIREWORK_")} == before


def test_commands_that_must_run_locally() -> None:
    from wirework.cli.main import _local_only

    assert _local_only(["pipework", "--wait", "-i", "eth1"])
    assert _local_only(["service", "start"]) and _local_only(["lab", "up", "x.yaml"]) and _local_only([])
    assert not _local_only(["pipework", "br0", "c1", "10.0.0.2/24"])


def test_docker_host_does_not_leak_between_requests(tmp_path: Path) -> None:
    from wirework.guests.docker import DockerClient

    client = DockerClient()
    env = {"WIREWORK_STATE_DIR": str(tmp_path)}
    handle({"argv": ["ls"], "env": {**env, "DOCKER_HOST": "unix:///tmp/other.sock"}, "cwd": "/"})
    assert "DOCKER_HOST" not in os.environ or os.environ["DOCKER_HOST"] != "unix:///tmp/other.sock"
    assert client.path != "/tmp/other.sock"


def test_systemd_units_run_the_service_on_the_default_socket() -> None:
    from configparser import ConfigParser

    from wirework.cli.main import DEFAULT_SOCKET

    root = Path(__file__).resolve().parents[2] / "contrib" / "systemd"
    socket_unit, service_unit = ConfigParser(strict=False), ConfigParser(strict=False)
    socket_unit.read(root / "wireworkd.socket")
    service_unit.read(root / "wireworkd.service")
    assert socket_unit["Socket"]["ListenStream"] == DEFAULT_SOCKET
    assert socket_unit["Socket"]["SocketMode"] == "0600"
    assert service_unit["Service"]["ExecStart"].endswith("wirework service run --idle-exit 0")
    assert service_unit["Unit"]["Requires"] == "wireworkd.socket"


def test_a_request_runs_on_the_lane_of_its_host() -> None:
    """A CNI request names its host in WIREWORK_NETNS, not --netns: it still goes to that host's lane."""
    from wirework.service.server import _netns_of

    assert _netns_of(["ls", "--netns", "h1"], {}) == "h1" and _netns_of(["ls", "--netns=h2"], {}) == "h2"
    assert _netns_of(["cni", "plugin"], {"WIREWORK_NETNS": "h3"}) == "h3"
    assert _netns_of(["cni", "plugin"], {}) is None and _netns_of(["ls"], {"WIREWORK_NETNS": "h3"}) is None


def test_a_session_asked_for_off_its_lane_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Its netlink sockets would open in the calling thread's namespace: never silently."""
    from wirework.cli import sessions

    monkeypatch.setattr(sessions, "KEEP_SESSIONS", True)
    monkeypatch.setattr(sessions, "ON_LANE", lambda netns: netns == "elsewhere")
    answer = handle({"argv": ["ls"], "env": {"WIREWORK_STATE_DIR": str(tmp_path)}, "cwd": "/"})
    assert answer["exit"] == 1 and "asked for off its lane" in answer["stderr"]
    assert sessions.count() == 0


def test_the_parser_of_one_command_knows_that_command() -> None:
    """A one-shot run builds only the group of its command (cli.app._MODULE_OF): every command the
    whole parser has is either mapped to the module that registers it, or builds the whole one."""
    import argparse

    from wirework.cli import app

    def commands(parser: argparse.ArgumentParser) -> set[str]:
        return {name for action in parser._actions if isinstance(action, argparse._SubParsersAction)
                for name in action.choices}

    every = commands(app.build_parser())
    assert set(app._MODULE_OF) <= every
    for command in every:
        assert command in commands(app.build_parser(command)), command

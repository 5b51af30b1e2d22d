"""DOCKER_HOST (issue 7): unix:// and tcp:// (plain HTTP) are used; TLS and other schemes are
refused in one clear line instead of being silently ignored. The servers here are fakes on a
unix socket and on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from wirework.errors import InvalidInput
from wirework.guests.docker import DockerClient, parse_docker_host

INSPECT = b'{"Id": "abc", "State": {"Pid": 4242, "Running": true}}'


class FakeApi:
    """Answers every request with the inspect body (chunked, as dockerd does), recording paths."""

    def __init__(self, server: socket.socket) -> None:
        self.server = server
        self.paths: list[str] = []
        server.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    head += conn.recv(4096)
                self.paths.append(head.split(b" ")[1].decode())
                body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(INSPECT), INSPECT)
                conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body)


@pytest.fixture
def unix_api(tmp_path: Path) -> Iterator[tuple[str, FakeApi]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(tmp_path / "docker.sock"))
    yield str(tmp_path / "docker.sock"), FakeApi(sock)
    sock.close()


@pytest.fixture
def tcp_api() -> Iterator[tuple[int, FakeApi]]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1], FakeApi(sock)
    sock.close()


def test_unix_and_tcp_hosts_are_used(unix_api: tuple[str, FakeApi], tcp_api: tuple[int, FakeApi]) -> None:
    path, api = unix_api
    assert DockerClient(f"unix://{path}").inspect("c1") == {"Id": "abc", "State": {"Pid": 4242, "Running": True}}
    assert api.paths == ["/containers/c1/json"]
    port, tcp = tcp_api
    client = DockerClient(f"tcp://127.0.0.1:{port}")
    assert client.available() and client.path == f"tcp://127.0.0.1:{port}"
    assert client.inspect("c/2") is not None and tcp.paths == ["/containers/c%2F2/json"]


def test_docker_host_from_the_environment(monkeypatch: pytest.MonkeyPatch, tcp_api: tuple[int, FakeApi]) -> None:
    port, api = tcp_api
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{port}")
    assert DockerClient().inspect("x") is not None and api.paths == ["/containers/x/json"]
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    with pytest.raises(InvalidInput, match="with TLS is not supported"):
        DockerClient().inspect("x")


@pytest.mark.parametrize(("value", "why"), [
    ("https://docker.example:2376", "with TLS is not supported"),
    ("ssh://me@host", "the ssh:// scheme is not supported"),
    ("npipe:////./pipe/docker_engine", "the npipe:// scheme is not supported"),
    ("docker.example:2375", "is not a URL"),
    ("unix://relative.sock", "no absolute socket path"),
    ("tcp://:2375", "names no host"),
])
def test_unsupported_hosts_are_refused(value: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why) as caught:
        parse_docker_host(value)
    assert "use unix:///PATH or tcp://HOST:PORT" in str(caught.value)


def test_defaults() -> None:
    assert parse_docker_host("") == ("unix", "/var/run/docker.sock")
    assert parse_docker_host("tcp://10.1.2.3") == ("tcp", ("10.1.2.3", 2375))
    assert parse_docker_host("unix:///run/d.sock") == ("unix", "/run/d.sock")


def test_the_cli_refuses_an_unsupported_docker_host_in_one_line(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "WIREWORK_NO_SERVICE": "1", "WIREWORK_STATE_DIR": str(tmp_path),
           "DOCKER_HOST": "ssh://me@elsewhere"}
    done = subprocess.run([sys.executable, "-m", "wirework.cli.main", "attach", "some-container", "br0",
                           "--ip", "10.0.0.2/24", "--dry-run"], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == ("wirework: DOCKER_HOST='ssh://me@elsewhere': the ssh:// scheme is not supported; "
                           "use unix:///PATH or tcp://HOST:PORT (plain HTTP), or unset DOCKER_HOST\n")

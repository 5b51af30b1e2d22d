"""The resident service (issue 7): concurrency, bounded reads, peer credentials, test-only
variables, session sweeps, auto-start by the CLI, idle exit and systemd socket activation.

Every service here has its own socket under a fresh /tmp directory and is stopped by the test
that started it; none touches the default socket. Overlap is proven with events (a fake Docker
API that holds a request open), never with timings.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Namespaces
from wirework.cli.wire import decode_answer, encode_request
from wirework.service.server import MAX_REQUEST

CLI = [sys.executable, "-m", "wirework.cli.main"]


def wait_for(condition: Callable[[], object], what: str, deadline: float = 60) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Service:
    def __init__(self, sock: str) -> None:
        self.sock = sock
        self.log = sock + ".log"

    def env(self, **extra: str) -> dict[str, str]:
        return {"PATH": os.environ["PATH"], "WIREWORK_SOCKET": self.sock, **extra}

    def cli(self, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CLI, *argv], env=self.env(WIREWORK_TRACE="1", **env), capture_output=True,
                              text=True, timeout=120, check=False)

    def raw(self, payload: bytes) -> tuple[int, str, str]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(60)
            conn.connect(self.sock)
            conn.sendall(payload)
            conn.shutdown(socket.SHUT_WR)
            return decode_answer(b"".join(iter(lambda: conn.recv(65536), b"")))

    def log_text(self) -> str:
        return Path(self.log).read_text(encoding="utf-8") if os.path.exists(self.log) else ""

    def pid(self) -> int | None:
        try:
            return int(Path(self.sock + ".pid").read_text(encoding="ascii"))
        except (OSError, ValueError):
            return None


@pytest.fixture
def rundir() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="wwsvc", dir="/tmp")
    os.chmod(path, 0o755)
    sock = os.path.join(path, "s.sock")
    try:
        yield path
    finally:
        subprocess.run([*CLI, "service", "stop", "--socket", sock], capture_output=True, check=False, timeout=60,
                       env={"PATH": os.environ["PATH"]})
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def service(rundir: str) -> Service:
    svc = Service(os.path.join(rundir, "s.sock"))
    env = {"PATH": os.environ["PATH"], "WIREWORK_SERVICE_READ_TIMEOUT": "120"}
    subprocess.run([*CLI, "service", "start", "--socket", svc.sock, "--no-docker-events"], env=env, check=True,
                   capture_output=True, timeout=120)
    return svc


class FakeDocker:
    """A Docker API on a unix socket that holds its first request until released; it answers 404
    to an inspect and an empty list of containers."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(8)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        first = True
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return  # closed
            with conn:
                request = conn.recv(65536)
                if first:
                    first = False
                    self.arrived.set()
                    self.release.wait(120)
                if request.startswith(b"GET /containers/json"):  # a did-you-mean lookup after the 404
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]")
                else:
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")

    def close(self) -> None:
        self.release.set()
        self.server.close()


def test_requests_on_different_hosts_run_at_the_same_time(service: Service, netns: Namespaces, state_dir: str,
                                                          rundir: str) -> None:
    h1, h2 = netns("h1"), netns("h2")
    docker = FakeDocker(os.path.join(rundir, "docker.sock"))
    try:
        env = {"WIREWORK_STATE_DIR": state_dir, "DOCKER_HOST": f"unix://{docker.path}"}
        held = subprocess.Popen([*CLI, "attach", "--netns", h1, "heldguest", "br0", "--ip", "10.0.0.2/24"],
                                env=service.env(**env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(docker.arrived.is_set, "the first request to reach Docker")
        # The first request now sits inside the service, holding h1's session. One on h2 runs:
        other = service.cli("ls", "--netns", h2, WIREWORK_STATE_DIR=state_dir)
        assert other.returncode == 0 and "served by the service" in other.stderr, other.stderr
        assert held.poll() is None, "the held request finished before it was released"
        docker.release.set()
        out, err = held.communicate(timeout=120)
        assert held.returncode != 0 and "'heldguest' not found" in err, err
    finally:
        docker.close()


def test_a_silent_client_does_not_block_others(service: Service, netns: Namespaces, state_dir: str) -> None:
    host = netns("host")
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        silent.connect(service.sock)  # sends nothing (this service waits up to 120 s for it)
        done = service.cli("ls", "--netns", host, WIREWORK_STATE_DIR=state_dir)
        assert done.returncode == 0 and "served by the service" in done.stderr, done.stderr
        silent.setblocking(False)
        with pytest.raises(BlockingIOError):
            silent.recv(1)  # still waiting for its request: it was not served first
    finally:
        silent.close()


def test_oversized_and_malformed_requests_are_refused(service: Service, state_dir: str) -> None:
    code, out, err = service.raw(b"WW1" + b"x" * (MAX_REQUEST + 10))
    assert code == 7 and out == "" and f"request larger than {MAX_REQUEST} bytes refused" in err
    code, _, err = service.raw(b"GET / HTTP/1.0\r\n\r\n")
    assert code == 7 and "bad request" in err
    assert service.cli("ls", "--state-dir", state_dir).returncode == 0  # still serving


def test_fault_injection_from_a_client_is_ignored(service: Service, netns: Namespaces, state_dir: str) -> None:
    host, guest = netns("host"), netns("g1")
    done = service.cli("attach", "--netns", host, guest, "br0", "--ip", "10.0.0.2/24",
                       WIREWORK_STATE_DIR=state_dir, WIREWORK_FAIL_AT="0")
    assert done.returncode == 0 and "served by the service" in done.stderr, done.stderr
    assert "attached" in done.stdout


def test_peers_other_than_root_or_the_group_are_refused(rundir: str) -> None:
    svc = Service(os.path.join(rundir, "s.sock"))
    subprocess.run([*CLI, "service", "start", "--socket", svc.sock, "--no-docker-events", "--group", "nogroup"],
                   env={"PATH": os.environ["PATH"]}, check=True, capture_output=True, timeout=120)
    assert oct(os.stat(svc.sock).st_mode & 0o777) == "0o660"
    os.chmod(svc.sock, 0o666)  # as if the socket were too open: the credentials check still holds

    def as_user(uid: int, gid: int) -> subprocess.CompletedProcess[str]:
        # Imports before dropping root: this interpreter's files are not readable by those users.
        script = ("import os, sys, _socket; import wirework.cli.main as m, wirework.cli.wire;"
                  f"os.setgroups([]); os.setgid({gid}); os.setuid({uid}); sys.exit(m.main(['ls']))")
        return subprocess.run([sys.executable, "-c", script], env=svc.env(PYTHONPATH=os.pathsep.join(sys.path)),
                              capture_output=True, text=True, timeout=120, check=False, cwd="/")

    refused = as_user(65533, 65533)
    assert refused.returncode == 77, refused.stderr
    assert refused.stdout == "" and refused.stderr.count("\n") == 1
    assert "permission denied for uid 65533: only root or members of group nogroup" in refused.stderr
    member = as_user(65534, 65534)  # in the group: served (as the service's root, like Docker's socket)
    assert member.returncode == 0 and "GUEST" in member.stdout, member.stderr


def test_sessions_of_deleted_namespaces_are_dropped(service: Service, netns: Namespaces, state_dir: str) -> None:
    host, guest = netns("host"), netns("g1")
    done = service.cli("attach", "--netns", host, guest, "br0", "--ip", "10.0.0.2/24", WIREWORK_STATE_DIR=state_dir)
    assert done.returncode == 0, done.stderr
    subprocess.run(["ip", "netns", "del", host], check=True)
    wait_for(lambda: f"dropped session netns={host} state={state_dir}: namespace deleted" in service.log_text(),
             "the service to drop the session of the deleted namespace")


def test_the_cli_starts_a_service_and_later_commands_use_it(rundir: str, netns: Namespaces, state_dir: str) -> None:
    host = netns("host")
    svc = Service(os.path.join(rundir, "s.sock"))
    first = svc.cli("ls", "--netns", host, WIREWORK_STATE_DIR=state_dir, WIREWORK_SERVICE_IDLE="120",
                    WIREWORK_FAIL_AT="0")
    assert first.returncode == 0 and first.stderr == "" and "GUEST" in first.stdout  # ran here, said nothing
    wait_for(lambda: os.path.exists(svc.sock) and svc.pid(), "the started service to listen")
    later = svc.cli("ls", "--netns", host, WIREWORK_STATE_DIR=state_dir)
    assert later.returncode == 0 and "served by the service" in later.stderr
    pid = svc.pid()
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert not [v for v in environ if v.startswith((b"WIREWORK_FAIL_AT=", b"WIREWORK_STATE_DIR="))]
    assert b"--idle-exit\x00120" in Path(f"/proc/{pid}/cmdline").read_bytes()
    # Several commands racing to start one: a single service holds the socket.
    assert f"serving {svc.sock}" in svc.log_text()


def test_an_idle_service_exits_by_itself(rundir: str) -> None:
    svc = Service(os.path.join(rundir, "s.sock"))
    subprocess.run([*CLI, "service", "start", "--socket", svc.sock, "--no-docker-events", "--idle-exit", "1"],
                   env={"PATH": os.environ["PATH"]}, check=True, capture_output=True, timeout=120)
    pid = svc.pid()
    assert pid
    wait_for(lambda: not os.path.exists(f"/proc/{pid}") or b"Z" in _state(pid), "the idle service to exit")
    assert not os.path.exists(svc.sock) and "no request for 1 s: exiting" in svc.log_text()


def test_starts_at_the_same_moment_all_end_with_the_one_service(rundir: str) -> None:
    """A `service start` racing another (or a command's auto-start) finds the lock taken: it
    answers with the service that won instead of failing."""
    svc = Service(os.path.join(rundir, "s.sock"))
    argv = [*CLI, "service", "start", "--socket", svc.sock, "--no-docker-events", "--json"]
    starts = [subprocess.Popen(argv, env={"PATH": os.environ["PATH"]}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True) for _ in range(3)]
    outcomes = [(p.wait(120), *p.communicate()) for p in starts]
    assert [code for code, _, _ in outcomes] == [0, 0, 0], outcomes
    pid = svc.pid()
    assert pid and all(str(pid) in out for _, out, _ in outcomes), outcomes


def _state(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().split(b") ")[1][:1]
    except OSError:
        return b"Z"


def test_a_service_that_cannot_start_says_so_in_one_line(tmp_path: Path, netns: Namespaces, state_dir: str) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    svc = Service(str(blocker / "s.sock"))  # its directory cannot be made: a file is in the way
    done = svc.cli("ls", "--netns", netns("host"), WIREWORK_STATE_DIR=state_dir)
    assert done.returncode == 0 and "GUEST" in done.stdout  # the command still ran
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"wirework: cannot start the service at {svc.sock}")
    assert "ran this command here" in done.stderr


def test_a_socket_passed_by_systemd_is_used(rundir: str, netns: Namespaces, state_dir: str) -> None:
    svc = Service(os.path.join(rundir, "s.sock"))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(svc.sock)
    listener.listen(8)
    fd = listener.fileno()
    # What systemd does for wireworkd.socket: the listening socket as fd 3, LISTEN_PID, LISTEN_FDS.
    exec_with_fd3 = ("import os, sys; fd = int(sys.argv[1]); os.dup2(fd, 3); os.close(fd);"
                     "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='1');"
                     "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])")
    proc = subprocess.Popen([sys.executable, "-c", exec_with_fd3, str(fd), "-m", "wirework.cli.main", "service", "run",
                             "--socket", svc.sock, "--no-docker-events"], pass_fds=(fd,),
                            env={"PATH": os.environ["PATH"]}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    listener.close()
    try:
        wait_for(svc.pid, "the socket-activated service to start")
        done = svc.cli("ls", "--netns", netns("host"), WIREWORK_STATE_DIR=state_dir)
        assert done.returncode == 0 and "served by the service" in done.stderr, done.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert os.path.exists(svc.sock)  # systemd's socket is left to systemd


def test_request_paths_and_defaults_follow_the_client(tmp_path: Path) -> None:
    from wirework.service.server import handle

    answer = handle({"argv": ["ls", "--state-dir", "relative-state"], "env": {}, "cwd": str(tmp_path)})
    assert answer["exit"] == 0, answer
    assert (tmp_path / "relative-state" / "state.db").exists()
    answer = handle({"argv": ["ls"], "env": {"WIREWORK_STATE_DIR": "st2"}, "cwd": str(tmp_path)})
    assert answer["exit"] == 0 and (tmp_path / "st2" / "state.db").exists()


def test_read_timeout_and_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from wirework.service import server

    monkeypatch.setattr(server, "READ_TIMEOUT", 0.2)
    a, b = socket.socketpair()
    with a, b, pytest.raises(server.RequestError, match="no complete request within 0.2 s"):
        server.read_request(a)
    monkeypatch.setattr(server, "MAX_REQUEST", 10)
    a, b = socket.socketpair()
    with a, b:
        b.sendall(encode_request(["ls"], {}, "/", None) + b"x" * 20)
        with pytest.raises(server.RequestError, match="larger than 10 bytes"):
            server.read_request(a)


def test_netlink_sockets_do_not_pile_up_with_requests(service: Service, netns: Namespaces, state_dir: str) -> None:
    """pyroute2 opens a socket per calling thread: requests run on a few long-lived workers."""
    from wirework.service.server import WORKERS

    host, guest = netns("host"), netns("g1")
    assert service.cli("attach", "--netns", host, guest, "br0", "--ip", "10.0.0.2/24",
                       WIREWORK_STATE_DIR=state_dir).returncode == 0

    def netlink_sockets() -> int:  # all sockets of the service: its netlink ones live in other netns
        pid = service.pid()
        return sum(os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:") for fd in os.listdir(f"/proc/{pid}/fd"))

    before = netlink_sockets()
    for _ in range(3 * WORKERS):
        done = service.cli("inspect", "--netns", host, guest, WIREWORK_STATE_DIR=state_dir)
        assert done.returncode == 0, done.stderr
    assert netlink_sockets() <= before + 2


def test_every_request_sees_its_own_namespaces(service: Service, netns: Namespaces, state_dir: str) -> None:
    """A session's sockets are used by one thread only: pyroute2 reopens a socket per thread in
    that thread's namespace, so a guest read from another thread saw the service's own namespace."""
    hosts = [netns(f"h{i}") for i in range(3)]
    guests = [netns(f"g{i}") for i in range(3)]
    for round_ in range(3):
        for i, (host, guest) in enumerate(zip(hosts, guests, strict=True)):
            done = service.cli("attach", "--netns", host, guest, "br0", "--ifname", f"eth{round_ + 1}",
                               "--ip", f"10.9.{i}.{round_ + 2}/24", WIREWORK_STATE_DIR=state_dir)
            assert done.returncode == 0, done.stderr
            names = subprocess.run(["ip", "-n", guest, "-o", "link"], capture_output=True, text=True, check=True).stdout
            assert f" eth{round_ + 1}@" in names
    done = service.cli("inspect", "--netns", hosts[0], guests[0], WIREWORK_STATE_DIR=state_dir)
    assert done.returncode == 0 and "eth3" in done.stdout and "10.9.0.4/24" in done.stdout, done.stdout


def test_a_kept_session_takes_each_requests_environment(monkeypatch: pytest.MonkeyPatch, netns: Namespaces,
                                                        tmp_path: Path) -> None:
    """In the service, every setting comes from the request's environment, never the service's
    own (here: all wrong), and a session kept across requests takes each request's."""
    from wirework.cli import sessions
    from wirework.service.server import handle

    host = netns("host")
    monkeypatch.setenv("WIREWORK_STATE_DIR", str(tmp_path / "service-state"))
    monkeypatch.setenv("WIREWORK_STORE", "bogus:")
    monkeypatch.setenv("WIREWORK_ADDRESS_POOLS", "10.201.0.0/16:24")
    monkeypatch.setenv("DOCKER_HOST", "ssh://nowhere")
    monkeypatch.setattr(sessions, "KEEP_SESSIONS", True)

    def run(*argv: str, **env: str) -> dict[str, object]:
        return handle({"argv": [*argv, "--netns", host], "env": {"WIREWORK_STATE_DIR": "st", **env},
                       "cwd": str(tmp_path)})

    try:
        for pool in ("10.211", "10.212"):
            done = run("network", "create", "n1", "--dry-run", WIREWORK_ADDRESS_POOLS=f"{pool}.0.0/16:24")
            assert done["exit"] == 0 and f"({pool}.0.0/24, gateway" in str(done["stdout"]), done
        assert sessions.count() == 1  # one session served both requests
        done = run("attach", "docker:nobody", "br0", "--ip", "10.0.0.2/24",
                   DOCKER_HOST=f"unix://{tmp_path}/no-docker.sock")
        assert done["exit"] != 0 and f"{tmp_path}/no-docker.sock" in str(done["stderr"]), done
        done = run("ls", WIREWORK_STORE=f"sqlite:{tmp_path}/other.db", WIREWORK_OVS_DB=f"unix:{tmp_path}/db.sock")
        assert done["exit"] == 0 and (tmp_path / "other.db").exists(), done
        assert sessions.count() == 2  # another store: another session
        assert (tmp_path / "st" / "state.db").exists() and not (tmp_path / "service-state").exists()
    finally:
        sessions.close_all()

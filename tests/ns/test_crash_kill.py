"""Kill the real CLI at every step of attach, connect, network create, uplink and lab up; then
the next command must leave the host exactly as before the killed command, or exactly as a
successful run leaves it (links, addresses, routes, nftables, OVS, the store).

The kill is the project's crash injection (`WIREWORK_FAIL_AT=crash:N`: the process ends with
`os._exit(137)` right before step N, nothing in Python runs after it); each loop checks that
it really happened (exit status 137, the journal left in the store). Odd N: the next command
is one that only recovers (gc, up, lab down) and must give "before"; even N: the same command
again, which recovers and then runs, and must give "after". One namespace set per operation.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import Namespaces, sh, snapshot
from tests.ns.helpers import world
from wirework.api import Wirework
from wirework.kernel.ovs_instance import OvsInstance
from wirework.store.sqlite import SqliteStore

Run = Callable[..., "subprocess.CompletedProcess[str]"]


def normalised(text: str) -> str:
    """Per-run values (times, pids, the per-attempt tag nonce) and IPAM hints out of a snapshot."""
    text = re.sub(r"'(created|pid|pid_start|started|deadline|nonce)': [^,}]+", r"'\1': X", text)
    text = re.sub(r"(att:[0-9a-f]+)\.[0-9a-f]{6}", r"\1", text)
    text = re.sub(r"^\d+: ", "", re.sub(r"@if\d+", "@if", text), flags=re.M)  # interface indexes: new links, new numbers
    volatile = ("/last/", "/cursor=", "inet6", "fe80", "ff00::", "::1 ")  # hints; IPv6 link-local comes by itself
    return "\n".join(sorted(ln for ln in text.splitlines() if not any(v in ln for v in volatile)))


def journals(state_db: str) -> list[str]:
    store = SqliteStore(state_db)
    try:
        return [e.key for e in store.scan("ops/")]
    finally:
        store.close()


def same(expected: str, got: str, what: str) -> None:
    assert got == expected, what + "\n" + "\n".join(difflib.unified_diff(expected.splitlines(), got.splitlines(),
                                                                          "expected", "got", lineterm=""))


def kill_at_every_step(steps: int, command: Run, recover: Callable[[], object], undo: Callable[[], object],
                       snap: Callable[[], str], state_db: str) -> None:
    """`command(env)` runs the operation through the CLI; `recover()` is a next command that
    only recovers; `undo()` takes a successful run back (through the API: it is not under test)."""
    before = snap()
    assert command({}).returncode == 0
    after = snap()
    undo()
    same(before, snap(), "undo of a successful run")
    for index in range(steps):
        killed = command({"WIREWORK_FAIL_AT": f"crash:{index}"})
        assert killed.returncode == 137, f"step {index} was not killed: {killed.returncode} {killed.stderr}"
        assert journals(state_db), f"a kill before step {index} left no journal"
        if index % 2:
            recover()
            same(before, snap(), f"a kill before step {index}, then a recovering command")
        else:
            again = command({})
            assert again.returncode == 0, again.stderr
            same(after, snap(), f"a kill before step {index}, then the same command again")
            undo()
        assert not journals(state_db)


def cli(host: str | None, state_dir: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "WIREWORK_NO_SERVICE": "1", "WIREWORK_STATE_DIR": state_dir, **(env or {})}
    full_env.pop("WIREWORK_FAIL_AT", None) if "WIREWORK_FAIL_AT" not in (env or {}) else None
    common = ["--netns", host] if host else []  # `lab` takes the state dir from the environment only
    argv = list(args)
    cut = argv.index("--") if "--" in argv else len(argv)
    argv[cut:cut] = common
    return subprocess.run([sys.executable, "-m", "wirework.cli.main", *argv], capture_output=True, text=True,
                          env=full_env, timeout=120, check=False)


def ok(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, f"{done.args}: {done.stderr}"


@pytest.fixture
def session(netns: Namespaces, state_dir: str) -> Iterator[Callable[..., Wirework]]:
    opened: list[Wirework] = []

    def make(host: str, **kw: str) -> Wirework:
        opened.append(Wirework(netns=host, state_dir=state_dir, **kw))
        return opened[-1]

    yield make
    for ww in opened:
        ww.close()


def guest_with_default(netns: Namespaces) -> str:
    g = netns("g")
    sh("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p", ns=g)
    sh("ip", "addr", "add", "172.30.0.2/24", "dev", "eth0", ns=g)
    sh("ip", "link", "set", "eth0", "up", ns=g)
    sh("ip", "route", "add", "default", "via", "172.30.0.1", ns=g)
    return g


def test_attach_replacing_the_guest_default(netns: Namespaces, state_dir: str,
                                            session: Callable[..., Wirework]) -> None:
    host, g = netns("host"), guest_with_default(netns)
    ww = session(host)
    args = ("attach", g, "br0", "--ip", "10.2.0.2/24", "--gateway", "10.2.0.1")
    steps = len(ww.attach(g, "br0", ip="10.2.0.2/24", gateway="10.2.0.1", dry_run=True).plan.steps)
    assert steps >= 6
    kill_at_every_step(steps, lambda env: cli(host, state_dir, *args, env=env), lambda: ok(cli(host, state_dir, "gc")),
                       lambda: ww.detach(g), lambda: normalised(world(host, [g], state_dir)),
                       os.path.join(state_dir, "state.db"))


def test_attach_to_a_new_ovs_bridge(ovs_host: tuple[str, OvsInstance], netns: Namespaces, state_dir: str,
                                    session: Callable[..., Wirework]) -> None:
    host, inst = ovs_host
    g = netns("g")
    ww = session(host, ovs_db=inst.db_socket)
    env = {"WIREWORK_OVS_DB": inst.db_socket}

    def ovs() -> str:
        return subprocess.run(["ovs-vsctl", f"--db=unix:{inst.db_socket}", "--format=csv", "--columns=name,external_ids",
                               "list", "Port"], capture_output=True, text=True, check=True, timeout=20).stdout

    args = ("attach", g, "ovsbr0", "--ip", "10.3.0.2/24")
    steps = len(ww.attach(g, "ovsbr0", ip="10.3.0.2/24", dry_run=True).plan.steps)
    kill_at_every_step(steps, lambda e: cli(host, state_dir, *args, env={**env, **e}),
                       lambda: ok(cli(host, state_dir, "gc", env=env)), lambda: ww.detach(g),
                       lambda: normalised(world(host, [g], state_dir) + "\n" + "\n".join(sorted(ovs().splitlines()))),
                       os.path.join(state_dir, "state.db"))


def test_network_create_and_connect(netns: Namespaces, state_dir: str, session: Callable[..., Wirework]) -> None:
    host, g = netns("host"), guest_with_default(netns)
    sh("sysctl", "-qw", "net.ipv4.ip_forward=0", ns=host)
    ww = session(host)
    db = os.path.join(state_dir, "state.db")
    create = ("network", "create", "kn", "--subnet", "10.74.0.0/24")
    steps = len(ww.network_create("kn", subnet="10.74.0.0/24", dry_run=True).plan.steps)

    def forwarding() -> str:
        return sh("sysctl", "net.ipv4.ip_forward", ns=host)

    def remove() -> None:
        ww.network_rm("kn")
        sh("sysctl", "-qw", "net.ipv4.ip_forward=0", ns=host)  # a network leaves forwarding on when removed

    kill_at_every_step(steps, lambda env: cli(host, state_dir, *create, env=env), lambda: ok(cli(host, state_dir, "up")),
                       remove, lambda: normalised(world(host, [], state_dir) + forwarding()), db)
    ww.network_create("kn", subnet="10.74.0.0/24")
    connect = ("connect", "kn", g, "--default-route", "-p", "8080:80")
    steps = len(ww.connect("kn", g, default_route=True, publish=["8080:80"], dry_run=True).plan.steps)
    kill_at_every_step(steps, lambda env: cli(host, state_dir, *connect, env=env), lambda: ok(cli(host, state_dir, "up")),
                       lambda: ww.disconnect("kn", g), lambda: normalised(world(host, [g], state_dir)), db)


def test_uplink(netns: Namespaces, state_dir: str, session: Callable[..., Wirework]) -> None:
    host, lan = netns("uh"), netns("ul")
    for ns in (host, lan):
        sh("sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0", ns=ns)
    sh("ip", "link", "add", "eth0", "netns", host, "type", "veth", "peer", "name", "lan0", "netns", lan)
    sh("ip", "-n", lan, "addr", "add", "192.168.78.1/24", "dev", "lan0")
    sh("ip", "-n", lan, "link", "set", "lan0", "up")
    sh("ip", "-n", host, "addr", "add", "192.168.78.10/24", "dev", "eth0")
    sh("ip", "-n", host, "link", "set", "eth0", "up")
    sh("ip", "-n", host, "route", "add", "default", "via", "192.168.78.1")
    sh("ip", "-n", host, "route", "add", "10.50.0.0/16", "via", "192.168.78.1", "table", "100")
    ww = session(host)
    steps = len(ww.uplink("br0", "eth0", dry_run=True).plan.steps)
    assert steps >= 8
    kill_at_every_step(steps, lambda env: cli(host, state_dir, "uplink", "br0", "eth0", "--confirm-within", "0", env=env),
                       lambda: ok(cli(host, state_dir, "gc")), lambda: ww.uplink_undo("br0"),
                       lambda: normalised(world(host, [], state_dir)), os.path.join(state_dir, "state.db"))


LAB = """name: {name}
hosts:
  h1:
    setup:
      - bridge: {{name: cbr0, address: 10.9.1.1/24}}
segments:
  lan:
    subnet: 192.168.59.0/24
    rate: 1gbit
    members:
      h1: 192.168.59.1/24
"""


def test_lab_up(state_dir: str, tmp_path: str) -> None:
    from wirework.api.lab import lab_manager

    name = f"k{uuid.uuid4().hex[:5]}"
    path = os.path.join(str(tmp_path), f"{name}.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(LAB.format(name=name))
    labs = lab_manager(state_dir)
    steps = len(labs.up(labs.load(path), dry_run=True).plan.steps)
    prefix = f"wwl-{name}"
    lab_db = os.path.join(state_dir, "labs", name, "state.db")

    def snap() -> str:
        spaces = sorted(n.split()[0] for n in sh("ip", "netns", "list").splitlines() if n.startswith(prefix))
        parts = [" ".join(spaces)] + [snapshot(ns) + sh("nft", "list", "ruleset", ns=ns) for ns in spaces]
        procs = sorted(p for p in sh("ps", "-eo", "args").splitlines() if f"/lab/{name}/" in p)
        return normalised("\n".join(parts + procs) + world_store(state_dir))

    def journal_db() -> str:
        return lab_db if os.path.exists(lab_db) else os.path.join(state_dir, "state.db")

    try:
        before = snap()
        kill_at_every_step(steps, lambda env: cli(None, state_dir, "lab", "up", "-q", path, env=env),
                           lambda: ok(cli(None, state_dir, "lab", "down", path)), lambda: labs.down(name),
                           snap, lab_db)
        assert snap() == before and journal_db()
    finally:
        labs.down(name)
        labs.close()


def world_store(state_dir: str) -> str:
    store = SqliteStore(os.path.join(state_dir, "state.db"))
    try:
        return "\n" + "\n".join(f"{e.key}={e.value}" for e in store.scan(""))
    finally:
        store.close()


def test_a_long_lived_session_removes_a_route_through_a_link_made_again_elsewhere(
        netns: Namespaces, session: Callable[..., Wirework]) -> None:
    """The resident service keeps its netlink sockets and cached interface indexes while local
    commands re-create links: a route through the new link must still be found and removed."""
    host, g = netns("host"), guest_with_default(netns)
    service, other = session(host), session(host)
    service.attach(g, "br0", ip="10.2.0.2/24", gateway="10.2.0.1")
    service.detach(g)  # the service now caches the index of the first eth1
    other.attach(g, "br0", ip="10.2.0.2/24", gateway="10.2.0.1")
    service.detach(g)
    assert sh("ip", "route", "show", "default", ns=g).split()[:5] == ["default", "via", "172.30.0.1", "dev", "eth0"]


def test_a_long_lived_session_recovers_what_later_commands_left(netns: Namespaces, state_dir: str,
                                                                session: Callable[..., Wirework]) -> None:
    """The resident service's session recovered when it started; a local command killed later
    leaves a journal, which the session's next change recovers before it probes."""
    host, g = netns("host"), netns("g")
    service = session(host)
    service.network_create("ln", subnet="10.75.0.0/24")  # its first change: recovery ran then
    killed = cli(host, state_dir, "connect", "ln", g, env={"WIREWORK_FAIL_AT": "crash:1"})
    assert killed.returncode == 137 and journals(os.path.join(state_dir, "state.db"))
    service.connect("ln", g)
    assert not journals(os.path.join(state_dir, "state.db"))
    links = [ln.split(":")[1].strip().split("@")[0] for ln in sh("ip", "-o", "link", ns=g).splitlines()]
    assert sorted(links) == ["eth0", "lo"]
    assert len([ln for ln in sh("ip", "-o", "link", ns=host).splitlines() if "wwv" in ln]) == 1


def test_a_journal_is_replayed_only_on_the_host_it_was_made_on(netns: Namespaces, state_dir: str) -> None:
    h1, h2, g = netns("h1"), netns("h2"), netns("g")
    for host in (h1, h2):
        sh("ip", "link", "add", "br0", "type", "bridge", ns=host)
    before = {h: normalised(world(h, [g], state_dir)) for h in (h1, h2)}
    killed = cli(h1, state_dir, "attach", g, "br0", "--ip", "10.2.0.2/24", env={"WIREWORK_FAIL_AT": "crash:1"})
    assert killed.returncode == 137 and "wwv" in sh("ip", "-o", "link", ns=h1)
    db = os.path.join(state_dir, "state.db")
    ok(cli(h2, state_dir, "gc"))  # another host: not its journal
    assert journals(db) and "wwv" in sh("ip", "-o", "link", ns=h1)
    ok(cli(h1, state_dir, "gc"))
    assert not journals(db)
    assert {h: normalised(world(h, [g], state_dir)) for h in (h1, h2)} == before

"""pipework-style attach on the real kernel: a throwaway "host" namespace and guest namespaces."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import Namespaces, ping, sh, snapshot, wirework_cli
from wirework.api import Wirework
from wirework.attachments.ops import teardown
from wirework.errors import Conflict, GuestNotFound, InvalidInput, NotFound, StepFailed, WireworkError
from wirework.store.sqlite import SqliteStore


def world(ww: Wirework, *guests: str) -> str:
    """Everything an attach may touch: host and guest namespaces, and the store."""
    parts = [snapshot(ww.host.netns)] + [snapshot(g) for g in guests]
    parts.append(repr([(e.key, e.value) for e in ww.store.scan("")]))
    return "\n===\n".join(parts)


def test_two_guests_on_a_new_bridge_ping_and_detach_leaves_nothing(ww: Wirework, netns: Namespaces) -> None:
    g1, g2 = netns("g1"), netns("g2")
    before = world(ww, g1, g2)
    a = ww.attach(g1, "br0", ip="192.168.114.100/24", gateway="192.168.114.1")
    b = ww.attach(g2, "br0", ip="192.168.114.101/24", gateway="192.168.114.1")
    assert a.changed and b.changed
    assert ping(g1, "192.168.114.101") and ping(g2, "192.168.114.100")
    assert "default via 192.168.114.1 dev eth1" in sh("ip", "route", ns=g1)
    again = ww.attach(g1, "br0", ip="192.168.114.100/24", gateway="192.168.114.1")
    assert not again.changed and not again.plan.steps
    assert [s.state for s in ww.ls()] == ["ok", "ok"]
    ww.detach(g1)
    ww.detach(g1)  # twice is fine
    ww.detach(g2)
    assert world(ww, g1, g2) == before  # the bridge wirework created went with the last guest


def test_existing_bridge_with_address_stays(ww: Wirework, netns: Namespaces) -> None:
    g1 = netns("g1")
    host = ww.host.netns
    assert host is not None
    sh("ip", "link", "add", "br0", "type", "bridge", ns=host)
    sh("ip", "addr", "add", "10.77.0.1/24", "dev", "br0", ns=host)
    sh("ip", "link", "set", "br0", "up", ns=host)
    ww.attach(g1, "br0", ip="10.77.0.5/24", gateway="10.77.0.1")
    assert ping(g1, "10.77.0.1")
    with pytest.raises(Conflict, match="10.77.0.1 is already used on br0 by the host itself"):
        ww.attach(netns("g2"), "br0", ip="10.77.0.1/24")
    ww.detach(g1)
    assert "br0" in sh("ip", "link", ns=host)


@pytest.mark.parametrize(("options", "error", "text"), [
    ({"ip": "10.0.0.300/24"}, InvalidInput, "10.0.0.300/24"),
    ({"ip": "10.0.0.2/33"}, InvalidInput, "10.0.0.2/33"),
    ({"ip": "10.0.0.2"}, InvalidInput, "prefix length"),
    ({"ip": "10.0.0.2/24", "mac": "01:02:03:04:05:06"}, InvalidInput, "multicast"),
    ({"ip": "10.0.0.2/24", "gateway": "10.0.9.1"}, InvalidInput, "outside the subnet"),
    ({"ip": "10.0.0.2/24", "ifname": "averyveryverylongname"}, InvalidInput, "at most 15"),
    ({"ip": "10.0.0.2/24", "host_ifname": "x" * 16}, InvalidInput, "at most 15"),
    ({"ip": "10.0.0.2/24", "vlan": "4095"}, InvalidInput, "1 to 4094"),
    ({"ip": "10.0.0.2/24", "vlan": "10"}, InvalidInput, "no VLAN filtering"),
    ({"ip": "10.0.0.3/24"}, Conflict, "already used on br0"),
    ({"ip": "10.0.0.4/24", "ifname": "eth1"}, Conflict, "already exists in guest"),
])
def test_bad_input_changes_nothing(ww: Wirework, netns: Namespaces, options: dict[str, str],
                                   error: type[Exception], text: str) -> None:
    g1, g2 = netns("g1"), netns("g2")
    ww.attach(g2, "br0", ip="10.0.0.3/24")
    sh("ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p", ns=g1)
    before = world(ww, g1, g2)
    options = {"ifname": "eth2", **options}
    with pytest.raises(error, match=text):
        ww.attach(g1, "br0", **options)
    assert world(ww, g1, g2) == before


def test_unknown_guest_stopped_and_wrong_host_if(ww: Wirework, netns: Namespaces) -> None:
    g1 = netns("g1")
    host = ww.host.netns
    assert host is not None
    sh("ip", "link", "add", "vx0", "type", "vxlan", "id", "5", "dstport", "4789", ns=host)
    before = world(ww, g1)
    with pytest.raises(GuestNotFound, match="tried: .*Docker"):
        ww.attach("no-such-guest-x", "br0", ip="10.0.0.2/24")
    with pytest.raises(InvalidInput, match="neither a bridge nor a NIC"):
        ww.attach(g1, "vx0", ip="10.0.0.2/24")
    with pytest.raises(NotFound, match="name it br"):
        ww.attach(g1, "nic9", ip="10.0.0.2/24")
    assert world(ww, g1) == before


def test_failure_at_every_step_rolls_back(netns: Namespaces, state_dir: str) -> None:
    host, g1 = netns("host"), netns("g1")
    probe = Wirework(netns=host, state_dir=state_dir)
    steps = len(probe.attach(g1, "br0", ip="10.1.0.2/24", gateway="10.1.0.1", dry_run=True).plan.steps)
    before = world(probe, g1)
    for index in range(steps):
        def fail(i: int, step: object, index: int = index) -> None:
            if i == index:
                raise RuntimeError(f"injected at {i}")

        ww = Wirework(netns=host, state_dir=state_dir, fault=fail)
        with pytest.raises(StepFailed, match="rolled back"):
            ww.attach(g1, "br0", ip="10.1.0.2/24", gateway="10.1.0.1")
        ww.close()
        assert world(probe, g1) == before, f"leftovers after a failure at step {index}"
    probe.close()


def test_macvlan_on_a_nic_reaches_the_lan(ww: Wirework, netns: Namespaces) -> None:
    lan, g1 = netns("lan"), netns("g1")
    host = ww.host.netns
    assert host is not None
    sh("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "lan0", "netns", lan, ns=host)
    sh("ip", "link", "set", "eth0", "up", ns=host)
    sh("ip", "addr", "add", "192.168.1.1/24", "dev", "lan0", ns=lan)
    sh("ip", "link", "set", "lan0", "up", ns=lan)
    mac = sh("cat", "/sys/class/net/eth0/address", ns=host).strip()
    res = ww.attach(g1, "", host_mac=mac, ip="192.168.1.190/24", gateway="192.168.1.1", ifname="eth0")
    assert res.attachment.host_kind == "macvlan" and res.attachment.host_if == "eth0"
    assert ping(g1, "192.168.1.1")
    ww.detach(g1)
    assert "eth0@" not in sh("ip", "link", ns=g1)


def test_vlan_on_a_nic_needs_8021q(ww: Wirework, netns: Namespaces) -> None:
    """What attach does follows what the kernel has, found out here with ip(8), not with
    wirework: a macvlan on NIC.VLAN where 802.1Q exists, a clear refusal (nothing made) where not."""
    g1, lan = netns("g1"), netns("lan")
    host = ww.host.netns
    assert host is not None
    sh("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "lan0", "netns", lan, ns=host)
    sh("ip", "link", "set", "eth0", "up", ns=host)
    sh("ip", "link", "set", "lan0", "up", ns=lan)
    kernel_has_8021q = subprocess.run(["ip", "-n", lan, "link", "add", "link", "lan0", "name", "lan0.10", "type", "vlan",
                                       "id", "10"], capture_output=True, check=False).returncode == 0
    before = world(ww, g1)
    if not kernel_has_8021q:
        with pytest.raises(WireworkError) as caught:
            ww.attach(g1, "eth0", ip="10.3.0.2/24", vlan="10")
        assert str(caught.value) == ("vlan interfaces is not available on this host: the kernel refused to create "
                                     "'eth0.10' (Operation not supported)")
        assert world(ww, g1) == before
        return
    sh("ip", "addr", "add", "10.3.0.1/24", "dev", "lan0.10", ns=lan)
    sh("ip", "link", "set", "lan0.10", "up", ns=lan)
    ww.attach(g1, "eth0", ip="10.3.0.2/24", vlan="10")
    assert "eth0.10@eth0" in sh("ip", "link", ns=host)
    assert ping(g1, "10.3.0.1")  # tagged 10 on the wire: only the VLAN's side of the LAN answers
    ww.detach(g1)
    assert "10.3.0.2" not in sh("ip", "addr", ns=g1)  # (eth0.10 stays: it is shared, like a bridge)


def test_dhcp_lease_from_a_server_on_the_bridge(ww: Wirework, netns: Namespaces, tmp_path: Path) -> None:
    g1 = netns("g1")
    host = ww.host.netns
    assert host is not None
    sh("ip", "link", "add", "br0", "type", "bridge", ns=host)
    sh("ip", "addr", "add", "10.44.0.1/24", "dev", "br0", ns=host)
    sh("ip", "link", "set", "br0", "up", ns=host)
    conf = tmp_path / "udhcpd.conf"
    leases = tmp_path / "leases"
    leases.write_text("")
    conf.write_text(f"start 10.44.0.50\nend 10.44.0.60\ninterface br0\nlease_file {leases}\n"
                    f"pidfile {tmp_path / 'udhcpd.pid'}\noption subnet 255.255.255.0\noption router 10.44.0.1\n")
    server = subprocess.Popen(["ip", "netns", "exec", host, "busybox", "udhcpd", "-f", str(conf)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        res = ww.attach(g1, "br0", dhcp=True)
        cidr = res.attachment.cidr or ""
        assert cidr.endswith("/24") and 50 <= int(cidr.split("/")[0].split(".")[3]) <= 60, cidr
        assert res.attachment.gateway == "10.44.0.1"
        assert cidr in sh("ip", "addr", ns=g1)
        assert ping(g1, "10.44.0.1")
        ww.detach(g1)
        assert cidr not in sh("ip", "addr", ns=g1)
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_route_rule_tc_inside_a_guest_by_cli(ww: Wirework, netns: Namespaces, state_dir: str) -> None:
    g1 = netns("g1")
    host = ww.host.netns
    assert host is not None
    ww.attach(g1, "br0", ip="192.168.1.10/24")
    env = {"WIREWORK_STATE_DIR": state_dir}
    wirework_cli("pipework", "route", g1, "add", "192.168.0.0/16", "dev", "eth1", "via", "192.168.1.1", env=env)
    assert "192.168.0.0/16 via 192.168.1.1 dev eth1" in sh("ip", "route", ns=g1)
    wirework_cli("pipework", "route", g1, "replace", "192.168.0.0/16", "via", "192.168.1.254", env=env)
    assert "192.168.0.0/16 via 192.168.1.254 dev eth1" in sh("ip", "route", ns=g1)
    wirework_cli("route", g1, "del", "192.168.0.0/16", "via", "192.168.1.254", env=env)
    assert "192.168.0.0/16" not in sh("ip", "route", ns=g1)
    wirework_cli("pipework", "rule", g1, "add", "from", "192.168.1.0/24", "table", "100", "pref", "1000", env=env)
    assert "1000:\tfrom 192.168.1.0/24 lookup 100" in sh("ip", "rule", ns=g1)
    wirework_cli("pipework", "tc", g1, "qdisc", "add", "dev", "eth1", "root", "tbf", "rate", "10mbit", "burst",
                 "32kbit", "latency", "50ms", env=env)
    assert "qdisc tbf" in sh("tc", "qdisc", "show", "dev", "eth1", ns=g1)
    bad = wirework_cli("route", g1, "add", "10.0.0.0/8", "via", "nope", env=env, check=False)
    assert bad.returncode == 2 and "gateway 'nope' is invalid" in bad.stderr


def test_cli_dry_run_and_errors(netns: Namespaces, state_dir: str) -> None:
    host, g1 = netns("host"), netns("g1")
    env = {"WIREWORK_STATE_DIR": state_dir}
    before = snapshot(host) + snapshot(g1)
    out = wirework_cli("pipework", "br0", "-i", "eth0", g1, "192.168.114.100/24@192.168.114.1", "--netns", host,
                       "--dry-run", env=env).stdout
    assert "create Linux bridge br0" in out and "add route default via 192.168.114.1 dev eth0" in out
    cmds = wirework_cli("pipework", "--dry-run", "--format", "commands", "--netns", host, "br0", g1,
                        "10.0.0.2/24", "U:web", env=env).stdout
    assert f"ip -n {host} link add wwv" in cmds and "address 02:" in cmds and f"netns {g1}" in cmds
    bad = wirework_cli("attach", g1, "br0", "--ip", "10.0.0.2/24", "--gateway", "10.9.9.9", "--netns", host,
                       env=env, check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "gateway" in bad.stderr
    assert snapshot(host) + snapshot(g1) == before


def test_wait_returns_once_the_interface_is_up(ww: Wirework, netns: Namespaces, state_dir: str) -> None:
    g1 = netns("g1")
    import sys

    waiter = subprocess.Popen(["ip", "netns", "exec", g1, sys.executable, "-m", "wirework.cli.main", "pipework",
                               "--wait", "-i", "eth1", "--timeout", "30"],
                              env={**os.environ, "WIREWORK_NO_SERVICE": "1"})
    time.sleep(0.5)
    assert waiter.poll() is None
    ww.attach(g1, "br0", ip="10.5.0.2/24")
    assert waiter.wait(timeout=30) == 0


def test_store_records_what_was_made(ww: Wirework, netns: Namespaces) -> None:
    g1 = netns("g1")
    att = ww.attach(g1, "br0", ip="10.6.0.2/24", mac="U:g1").attachment
    assert att.mac == "02:" + att.mac[3:] and att.host_ifname.startswith("wwv")
    store = ww.store
    assert isinstance(store, SqliteStore)
    keys = [e.key for e in store.scan("")]
    assert keys == [f"att/{ww.host_id}/{att.id}", f"ip/{ww.host_id}/br0/10.6.0.2"]
    alias = sh("ip", "-d", "link", "show", att.host_ifname, ns=ww.host.netns)
    assert f"alias wirework:att:{att.id}" in alias


def test_ipv6_address_and_gateway_with_pipework_family_flag(ww: Wirework, netns: Namespaces, state_dir: str) -> None:
    g1, g2 = netns("g1"), netns("g2")
    env = {"WIREWORK_STATE_DIR": state_dir}
    host = ww.host.netns
    assert host is not None
    wirework_cli("pipework", "br6", "-a", "6", g1, "fd00:114::100/64@fd00:114::1", "--netns", host, env=env)
    wirework_cli("pipework", "br6", "-a", "6", g2, "fd00:114::101/64", "--netns", host, env=env)
    assert "fd00:114::100/64" in sh("ip", "-6", "addr", ns=g1)
    assert "default via fd00:114::1 dev eth1" in sh("ip", "-6", "route", ns=g1)
    deadline = time.monotonic() + 5  # duplicate address detection takes a moment
    while time.monotonic() < deadline and not ping(g1, "fd00:114::101"):
        time.sleep(0.2)
    assert ping(g1, "fd00:114::101")
    bad = wirework_cli("pipework", "br6", "-a", "6", g2, "10.0.0.2/24", "--netns", host, env=env, check=False)
    assert bad.returncode == 2 and "not IPv6" in bad.stderr


def test_direct_phys_moves_the_nic_in_and_back(ww: Wirework, netns: Namespaces, state_dir: str) -> None:
    lan, g1 = netns("lan"), netns("g1")
    host = ww.host.netns
    assert host is not None
    sh("ip", "link", "add", "eth5", "type", "veth", "peer", "name", "lan5", "netns", lan, ns=host)
    sh("ip", "addr", "add", "10.55.0.1/24", "dev", "lan5", ns=lan)
    sh("ip", "link", "set", "lan5", "up", ns=lan)
    before = world(ww, g1)
    wirework_cli("pipework", "--direct-phys", "eth5", g1, "10.55.0.2/24", "--netns", host,
                 env={"WIREWORK_STATE_DIR": state_dir})
    assert "eth5" not in sh("ip", "link", ns=host) and "eth1@" in sh("ip", "link", ns=g1)
    assert ping(g1, "10.55.0.1")
    wirework_cli("detach", g1, "--netns", host, env={"WIREWORK_STATE_DIR": state_dir})
    assert world(ww, g1) == before


def test_a_host_namespace_guest_is_refused(ww: Wirework) -> None:
    host = ww.host.netns
    assert host is not None
    before = snapshot(host)
    with pytest.raises(InvalidInput, match="shares the host's network namespace"):
        ww.attach(host, "br0", ip="10.0.0.2/24", gateway="10.0.0.1")
    assert snapshot(host) == before


def test_concurrent_attaches_cannot_take_the_same_address(netns: Namespaces, state_dir: str) -> None:
    host = netns("host")
    guests = [netns(f"g{i}") for i in range(4)]
    with Wirework(netns=host, state_dir=state_dir) as ww:
        ww.attach(guests[0], "br0", ip="10.66.0.100/24")  # the bridge exists before the race
    env = {"WIREWORK_STATE_DIR": state_dir}
    import sys

    procs = [subprocess.Popen([sys.executable, "-m", "wirework.cli.main", "pipework", "br0", g, "10.66.0.7/24",
                               "--netns", host], env={**os.environ, **env, "WIREWORK_NO_SERVICE": "1"},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for g in guests[1:]]
    codes = [p.wait(timeout=60) for p in procs]
    assert sorted(codes) == [0, 4, 4], [p.stderr.read() for p in procs if p.stderr]  # type: ignore[union-attr]
    holders = [g for g in guests[1:] if "10.66.0.7/24" in sh("ip", "addr", ns=g)]
    assert len(holders) == 1


def test_gc_of_an_old_wiring_spares_the_new_one(netns: Namespaces, state_dir: str) -> None:
    host = netns("host")
    g1 = netns("g1")
    with Wirework(netns=host, state_dir=state_dir) as ww:
        ww.attach(g1, "br0", ip="10.67.0.2/24")
        old = ww.ls()
        sh("ip", "netns", "del", g1)  # the guest restarts: a new namespace under the same name
        sh("ip", "netns", "add", g1)
        ww.attach(g1, "br0", ip="10.67.0.2/24")  # wired again before gc gets to the old record
        teardown(ww.context, old[0].attachment, None)  # what a racing gc would do with its stale list
        assert "10.67.0.2/24" in sh("ip", "addr", ns=g1)
        assert [s.state for s in ww.ls()] == ["ok"]


def test_namespace_steps_never_delete_a_namespace_they_did_not_tag(netns: Namespaces) -> None:
    from wirework.drivers.namespaces import CreateNetns, DeleteNetns
    from wirework.kernel.host import KernelHost

    theirs = netns("theirs")
    host = KernelHost()
    for step in CreateNetns(theirs, f"run:{theirs}").crash_undo():  # a crash before the create ran
        step.apply(host)
    assert os.path.exists(f"/run/netns/{theirs}")
    ours = theirs + "o"
    undo = CreateNetns(ours, f"run:{ours}").apply(host)
    try:
        assert "alias wirework:run:" in sh("ip", "-d", "link", "show", "lo", ns=ours)
    finally:
        for step in undo:
            step.apply(host)
    assert not os.path.exists(f"/run/netns/{ours}")
    DeleteNetns(theirs, f"run:{theirs}").apply(host)  # tagged delete of an untagged namespace: no-op
    assert os.path.exists(f"/run/netns/{theirs}")
    host.close()


def _pid_guest() -> subprocess.Popen[bytes]:
    """A process with a network namespace of its own (what `pid:N` guests are)."""
    proc = subprocess.Popen(["unshare", "-n", "sleep", "600"])
    deadline = time.monotonic() + 10
    while os.readlink(f"/proc/{proc.pid}/ns/net") == os.readlink("/proc/self/ns/net"):
        assert time.monotonic() < deadline, "unshare did not enter a namespace of its own"
        time.sleep(0.01)
    return proc


@pytest.mark.parametrize("gone", ["netns-deleted", "pid-dead", "pid-reused"])
def test_an_address_held_by_a_guest_that_is_gone_is_taken_over(ww: Wirework, netns: Namespaces, gone: str) -> None:
    """pipework's everyday loop: the old guest went away without a detach (docker rm, kill,
    ip netns del); attaching another guest to its address just works, without a gc first."""
    new = netns("new")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        if gone == "netns-deleted":
            ref = name = netns("old")
        else:
            procs.append(_pid_guest())
            ref, name = f"pid:{procs[0].pid}", f"pid {procs[0].pid}"
        old = ww.attach(ref, "br0", ip="10.69.0.5/24").attachment
        with pytest.raises(Conflict, match=f"10.69.0.5 is already used on br0 by {name}; pick another"):
            ww.attach(new, "br0", ip="10.69.0.5/24")  # a holder that lives keeps its address
        if gone == "netns-deleted":
            sh("ip", "netns", "del", ref)
        else:
            procs[0].kill()
            procs[0].wait()
        if gone == "pid-reused":  # the PID now belongs to another process (in another namespace)
            procs.append(_pid_guest())
            entry = ww.store.get(f"att/{ww.host_id}/{old.id}")
            assert entry is not None
            guest = {**entry.value["guest"], "pid": procs[1].pid, "netns_path": f"/proc/{procs[1].pid}/ns/net"}
            ww.store.put(entry.key, {**entry.value, "guest": guest})
        dry = ww.attach(new, "br0", ip="10.69.0.5/24", dry_run=True).plan  # says it, changes nothing
        assert any(old.host_ifname in step.describe() for step in dry.steps), dry.steps
        assert [s.state for s in ww.ls()] == ["guest-gone"]
        res = ww.attach(new, "br0", ip="10.69.0.5/24")
        assert res.changed and "10.69.0.5/24" in sh("ip", "addr", ns=new)
        assert [(s.attachment.guest.name, s.state) for s in ww.ls()] == [(new, "ok")]
        assert old.host_ifname not in sh("ip", "link", ns=ww.host.netns)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def test_a_refused_claim_names_the_guest_that_holds_it(ww: Wirework, netns: Namespaces, state_dir: str) -> None:
    old, new = netns("old"), netns("new")
    ww.attach(old, "br0", ip="10.69.1.5/24")
    host = ww.host.netns
    assert host is not None
    out = wirework_cli("pipework", "br0", new, "10.69.1.5/24", "--netns", host, check=False,
                       env={"WIREWORK_STATE_DIR": state_dir})
    assert out.returncode == 4
    assert out.stderr.strip() == f"wirework: address 10.69.1.5 is already used on br0 by {old}; pick another"

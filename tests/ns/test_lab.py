"""Every shipped lab file: up, check, converge, down, and nothing left behind; crashes and failures."""

from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest

EXAMPLES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "..", "examples", "*.yaml")))
ROUTED = next(p for p in EXAMPLES if p.endswith("routed.yaml"))


def wirework(state_dir: str, *argv: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "WIREWORK_NO_SERVICE": "1", "WIREWORK_STATE_DIR": state_dir, **(env or {})}
    full_env.pop("WIREWORK_FAIL_AT", None) if not env or "WIREWORK_FAIL_AT" not in env else None
    done = subprocess.run([sys.executable, "-m", "wirework.cli.main", *argv], capture_output=True, text=True,
                          env=full_env, timeout=120, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"wirework {' '.join(argv)} -> {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


def machine() -> dict[str, list[str]]:
    """What a lab could leave behind: namespaces, root links, lab processes, lab files."""
    spaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    procs = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    return {
        "netns": sorted(line.split()[0] for line in spaces.splitlines() if line.startswith("wwl-")),
        "links": sorted(line.split(":")[1].strip() for line in links.splitlines()),
        "procs": sorted(line for line in procs.splitlines() if "/run/wirework/lab/" in line or "wwl-" in line),
        "files": sorted(os.listdir("/run/wirework/lab")) if os.path.isdir("/run/wirework/lab") else [],
    }


def leftovers(before: dict[str, list[str]], lab: str) -> dict[str, list[str]]:
    """What lab `lab` left on the machine: other engineers' labs come and go meanwhile, and their
    tests make bridges and veths in the root namespace (wirework's `ww*` names, tests' `br*`),
    names a lab never gives anything there."""
    now = machine()
    ours = {k: [e for e in set(now[k]) - set(before[k])
                if (k == "links" and not e.startswith(("ww", "br"))) or lab in e] for k in now}
    return {k: sorted(v) for k, v in ours.items() if v}


def lab_name(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_example_up_check_converge_down(path: str, state_dir: str) -> None:
    before = machine()
    try:
        first = wirework(state_dir, "lab", "up", "-q", path)
        assert "is up" in first.stdout
        result = wirework(state_dir, "lab", "check", path)
        assert "MISMATCH" not in result.stdout and " as expected" in result.stdout, result.stdout
        again = wirework(state_dir, "lab", "up", "-q", path)
        assert "is up" in again.stdout
        assert lab_name(path) in wirework(state_dir, "lab", "status").stdout
        wirework(state_dir, "lab", "check", lab_name(path))
    finally:
        down = wirework(state_dir, "lab", "down", path, check=False)
    assert down.returncode == 0, down.stderr
    assert leftovers(before, lab_name(path)) == {}


def test_exec_and_graph(state_dir: str, tmp_path: str) -> None:
    try:
        wirework(state_dir, "lab", "up", "-q", ROUTED)
        out = wirework(state_dir, "lab", "exec", "routed", "c1", "--", "ip", "-o", "addr", "show", "eth0").stdout
        assert "10.1.1.2/24" in out
        svg = os.path.join(str(tmp_path), "lab.svg")
        wirework(state_dir, "lab", "graph", "routed", "--format", "svg", "-o", svg)
        with open(svg, encoding="utf-8") as f:
            assert "<svg" in f.read()
        assert "host h1" in wirework(state_dir, "lab", "graph", ROUTED).stdout
    finally:
        wirework(state_dir, "lab", "down", "routed", check=False)


def test_check_reports_a_mismatch(state_dir: str, tmp_path: str) -> None:
    with open(ROUTED, encoding="utf-8") as f:
        text = f.read().replace("- {from: c1, to: 10.1.2.99, result: fail}", "- {from: c1, to: 10.1.2.99}")
    path = os.path.join(str(tmp_path), "routed.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    try:
        wirework(state_dir, "lab", "up", "-q", path)
        done = wirework(state_dir, "lab", "check", path, check=False)
        assert done.returncode == 1 and "MISMATCH" in done.stdout
    finally:
        wirework(state_dir, "lab", "down", path, check=False)


@pytest.mark.parametrize("at", ["crash:4", "crash:14", "crash:30", "lab_start_program", "lab_host_setup"])
def test_interrupted_or_failed_up_leaves_nothing_after_down(at: str, state_dir: str) -> None:
    before = machine()
    try:
        done = wirework(state_dir, "lab", "up", "-q", ROUTED, env={"WIREWORK_FAIL_AT": at}, check=False)
        if at.startswith("crash"):
            assert done.returncode == 137, f"no crash at {at}: {done.returncode} {done.stderr}"
        else:
            assert done.returncode != 0 and "injected failure at step" in done.stderr, done.stderr
        if not at.startswith("crash"):
            assert leftovers(before, "routed") == {}  # rolled back by itself
        wirework(state_dir, "lab", "up", "-q", ROUTED)  # a second up converges
        assert "17/17 as expected" in wirework(state_dir, "lab", "check", "routed").stdout
    finally:
        wirework(state_dir, "lab", "down", "routed", check=False)
    assert leftovers(before, "routed") == {}


def test_invalid_file_creates_nothing(state_dir: str, tmp_path: str) -> None:
    path = os.path.join(str(tmp_path), "bad.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write("hosts:\n  h1: {}\nsegments:\n  lan:\n    members:\n      h1: 10.0.0.1/24\n      h7: 10.0.0.2/24\n")
    before = machine()
    done = wirework(state_dir, "lab", "up", path, check=False)
    assert done.returncode == 2 and f"{path}:7: segment lan: unknown host 'h7'" in done.stderr
    assert leftovers(before, "bad") == {}


def test_delay_needs_netem_and_says_so(state_dir: str, tmp_path: str) -> None:
    """What wirework does follows what the kernel has, found out here independently of
    wirework's own probe: netem applied where it exists, a clear refusal (nothing made) where not."""
    import uuid

    from wirework.kernel.labenv import netem_available

    kernel_has_netem = subprocess.run(["unshare", "--net", "tc", "qdisc", "add", "dev", "lo", "root", "netem",
                                       "delay", "1ms"], capture_output=True, check=False).returncode == 0
    assert netem_available() is kernel_has_netem
    name = f"slow{uuid.uuid4().hex[:6]}"  # its own lab: nobody else's run can touch or show it
    path = os.path.join(str(tmp_path), f"{name}.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write("hosts:\n  h1: {}\n  h2: {}\nsegments:\n  lan:\n    delay: 10ms\n"
                "    members: {h1: 10.0.0.1/24, h2: 10.0.0.2/24}\n")

    def mine() -> dict[str, list[str]]:
        return {k: [v for v in vs if name in v] for k, vs in machine().items()}

    before = mine()
    done = wirework(state_dir, "lab", "up", "-q", path, check=False)
    try:
        if kernel_has_netem:
            assert done.returncode == 0, done.stderr
            qdiscs = "".join(subprocess.run(["tc", "-n", n, "qdisc", "show"], capture_output=True, text=True,
                                            check=False).stdout for n in mine()["netns"])
            assert "netem" in qdiscs and "delay 10ms" in qdiscs, qdiscs
        else:
            assert done.returncode == 5, done.stderr
            assert done.stderr.strip() == (
                "wirework: tc netem (segment delay/loss) is not available on this host: this kernel has no netem "
                f"qdisc; remove delay:/loss: from segment lan ({path}:5) or use rate: (tbf), which works")
            assert mine() == before
    finally:
        wirework(state_dir, "lab", "down", path, check=False)


VXLAN_OVERLAY = next(p for p in EXAMPLES if p.endswith("vxlan-overlay.yaml"))
OVS_OVERLAY = next(p for p in EXAMPLES if p.endswith("ovs-overlay.yaml"))


def row(out: str, *cells: str) -> bool:
    return any(line.split()[:len(cells)] == list(cells) for line in out.splitlines() if line.strip())


def test_vxlan_overlay_traffic_crosses_the_linux_vxlan(state_dir: str) -> None:
    before = machine()
    try:
        wirework(state_dir, "lab", "up", "-q", VXLAN_OVERLAY)
        out = wirework(state_dir, "lab", "check", VXLAN_OVERLAY).stdout
        assert "12/12 as expected" in out, out
        assert row(out, "c1", "c2", "10.244.0.12", "mtu", "1450", "pass", "pass", "ok"), out
        assert row(out, "c1", "c2", "10.244.0.12", "mtu", "1451", "fail", "fail", "ok"), out
        for host, peers in (("h1", ("192.168.120.2", "192.168.120.3")), ("h3", ("192.168.120.1", "192.168.120.2"))):
            ns = f"wwl-vxlan-overlay-{host}"
            fdb = subprocess.run(["bridge", "-n", ns, "fdb", "show", "dev", "vx42"], capture_output=True, text=True,
                                 check=True).stdout
            assert all(f"00:00:00:00:00:00 dst {p} self permanent" in fdb for p in peers), fdb
            stats = subprocess.run(["ip", "-n", ns, "-s", "-j", "link", "show", "vx42"], capture_output=True,
                                   text=True, check=True).stdout
            import json

            link = json.loads(stats)[0]
            assert link["stats64"]["tx"]["packets"] > 0 and link["stats64"]["rx"]["packets"] > 0
            assert link["mtu"] == 1450 and link["ifalias"] == "wirework:lab:vxlan-overlay"
        assert "nolearning" in subprocess.run(["ip", "-n", "wwl-vxlan-overlay-h2", "-d", "link", "show", "vx42"],
                                              capture_output=True, text=True, check=True).stdout
    finally:
        down = wirework(state_dir, "lab", "down", VXLAN_OVERLAY, check=False)
    assert down.returncode == 0, down.stderr
    assert leftovers(before, "vxlan-overlay") == {}


def underlay_tx(ns: str) -> int:
    import json

    out = subprocess.run(["ip", "-n", ns, "-s", "-j", "link", "show", "eth0"], capture_output=True, text=True,
                         check=True).stdout
    return int(json.loads(out)[0]["stats64"]["tx"]["packets"])


def test_ovs_overlay_traffic_crosses_the_gre_tunnel(state_dir: str) -> None:
    before = machine()
    try:
        wirework(state_dir, "lab", "up", "-q", OVS_OVERLAY)
        out = wirework(state_dir, "lab", "check", OVS_OVERLAY).stdout
        assert "6/6 as expected" in out, out
        assert row(out, "c1", "c2", "10.245.0.12", "mtu", "1462", "pass", "pass", "ok"), out
        assert row(out, "c1", "c2", "10.245.0.12", "mtu", "1463", "fail", "fail", "ok"), out
        db = "unix:/run/wirework/lab/ovs-overlay/ovs/h1/db.sock"
        ports = subprocess.run(["ovs-vsctl", f"--db={db}", "list-ports", "obr0"], capture_output=True, text=True,
                               check=True).stdout.split()
        assert [p for p in ports if p.startswith("gre")] == ["grec0a87902"], ports
        # c1 has no route to the underlay: what its pings add to h1's underlay NIC is GRE.
        sent = underlay_tx("wwl-ovs-overlay-h1")
        ping = subprocess.run(["ip", "netns", "exec", "wwl-ovs-overlay-c1", "ping", "-c", "5", "-i", "0.05",
                               "10.245.0.12"], capture_output=True, text=True, check=False)
        assert ping.returncode == 0, ping.stdout
        assert underlay_tx("wwl-ovs-overlay-h1") >= sent + 5
    finally:
        down = wirework(state_dir, "lab", "down", OVS_OVERLAY, check=False)
    assert down.returncode == 0, down.stderr
    assert leftovers(before, "ovs-overlay") == {}


def test_vxlan_peer_errors_point_at_the_line_and_create_nothing(state_dir: str, tmp_path: str) -> None:
    with open(VXLAN_OVERLAY, encoding="utf-8") as f:
        text = f.read().replace("peers: [h2, h3]}", "peers: [h2, h9]}").replace("vni: 42, bridge: br0, local: "
                                                                               "192.168.120.2", "vni: 0, bridge: br0, "
                                                                               "local: 192.168.120.2")
    path = os.path.join(str(tmp_path), "bad-vxlan.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    before = machine()
    done = wirework(state_dir, "lab", "up", path, check=False)
    assert done.returncode == 2, done.stderr
    assert f"{path}:17: hosts/h2/setup/1/vxlan/vni: 0 is less than the minimum of 1" in done.stderr, done.stderr
    fixed = text.replace("vni: 0,", "vni: 42,")
    with open(path, "w", encoding="utf-8") as f:
        f.write(fixed)
    done = wirework(state_dir, "lab", "up", path, check=False)
    assert done.returncode == 2 and f"{path}:11: vxlan vx42 on h1: peer 'h9' is not a host of this lab" in done.stderr
    assert leftovers(before, "vxlan-overlay") == {}


@pytest.mark.parametrize(("name", "magic"), [("g.png", b"\x89PNG"), ("g.svg", b"<?xml"), ("g.pdf", b"%PDF"),
                                             ("g.dot", b"graph "), ("g.txt", b"lab routed")])
def test_graph_writes_the_format_its_file_name_says(name: str, magic: bytes, state_dir: str, tmp_path: str) -> None:
    out = os.path.join(str(tmp_path), name)
    wirework(state_dir, "lab", "graph", ROUTED, "-o", out)
    with open(out, "rb") as f:
        assert f.read().startswith(magic)


def test_graph_refuses_an_unknown_extension_and_writes_nothing(state_dir: str, tmp_path: str) -> None:
    out = os.path.join(str(tmp_path), "g.jpeg")
    done = wirework(state_dir, "lab", "graph", ROUTED, "-o", out, check=False)
    assert done.returncode != 0 and "--format" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not os.path.exists(out)

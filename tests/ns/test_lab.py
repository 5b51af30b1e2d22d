"""Every shipped lab file: up, check, converge, down, and nothing left behind; crashes and failures."""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUN_ID

EXAMPLES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "..", "examples", "*.yaml")))
ROUTED = next(p for p in EXAMPLES if os.path.basename(p) == "routed.yaml")


def wirework(state_dir: str, *argv: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "WIREWORK_NO_SERVICE": "1", "WIREWORK_STATE_DIR": state_dir, **(env or {})}
    full_env.pop("WIREWORK_FAIL_AT", None) if not env or "WIREWORK_FAIL_AT" not in env else None
    done = subprocess.run([sys.executable, "-m", "wirework.cli.main", *argv], capture_output=True, text=True,
                          env=full_env, timeout=120, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"wirework {' '.join(argv)} -> {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


class Lab:
    """One example lab brought up under a name of this run's own (`NAME-<run id>`, NAME cut to fit), so that two
    engineers' runs of the same example never share a namespace, a run dir or a process, and
    the "nothing left behind" checks look only at what this lab owns."""

    def __init__(self, path: str, tmp_path: Path, *, edit: Callable[[str], str] | None = None) -> None:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        base = re.search(r"^name: (\S+)$", text, re.M)
        original = base.group(1) if base else os.path.splitext(os.path.basename(path))[0]
        self.name = f"{original[:11].rstrip('-')}-{RUN_ID[:4]}"  # lab names have at most 16 characters
        # The same line count, so that errors still point at the example's own line numbers.
        text = re.sub(r"^name: \S+$", f"name: {self.name}", text, flags=re.M) if base else f"name: {self.name}\n" + text
        text = edit(text) if edit else text
        self.path = str(tmp_path / os.path.basename(path))
        with open(self.path, "w", encoding="utf-8") as f:
            f.write(text)

    def ns(self, node: str) -> str:
        return f"wwl-{self.name}-{node}"

    def owned(self) -> dict[str, list[str]]:
        """What this lab could leave behind: its namespaces, root links with its tag or its
        port and segment-bridge names, processes that name its namespaces or run dir, its run dir."""
        spaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
        procs = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
        mine = (f"wwl-{self.name}-", f"wwl-{self.name}.sw")
        run_dir = f"/run/wirework/lab/{self.name}"
        link_names = self._link_names()
        return {
            "netns": sorted(w for line in spaces.splitlines() for w in line.split()[:1] if w.startswith(mine)),
            "links": sorted(line.split(":")[1].strip() for line in links.splitlines()
                            if f"wirework:lab:{self.name}" in line or line.split(":")[1].strip().split("@")[0] in link_names),
            "procs": sorted(line for line in procs.splitlines() if run_dir + "/" in line or any(m in line for m in mine)),
            "files": [run_dir] if os.path.exists(run_dir) else [],
        }

    def _link_names(self) -> set[str]:
        from wirework.lab.resolve import LabNames

        try:
            topo = lab_manager().load(self.path)
        except Exception:
            return set()  # an invalid file makes no links
        names = LabNames(self.name, "/nonexistent")
        return {n for i, seg in enumerate(topo.segments)
                for n in (names.seg_bridge(i, seg), *(names.port(seg, m.host) for m in seg.members))}


def lab_manager() -> Any:
    from wirework.api.lab import lab_manager as manager

    return manager("/nonexistent")


NOTHING: dict[str, list[str]] = {"netns": [], "links": [], "procs": [], "files": []}


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_example_up_check_converge_down(path: str, state_dir: str, tmp_path: Path) -> None:
    lab = Lab(path, tmp_path)
    assert lab.owned() == NOTHING
    try:
        first = wirework(state_dir, "lab", "up", "-q", lab.path)
        assert "is up" in first.stdout
        result = wirework(state_dir, "lab", "check", lab.path)
        assert "MISMATCH" not in result.stdout and " as expected" in result.stdout, result.stdout
        again = wirework(state_dir, "lab", "up", "-q", lab.path)
        assert "is up" in again.stdout
        assert lab.name in wirework(state_dir, "lab", "status").stdout
        wirework(state_dir, "lab", "check", lab.name)
    finally:
        down = wirework(state_dir, "lab", "down", lab.path, check=False)
    assert down.returncode == 0, down.stderr
    assert lab.owned() == NOTHING


def test_exec_and_graph(state_dir: str, tmp_path: Path) -> None:
    lab = Lab(ROUTED, tmp_path)
    try:
        wirework(state_dir, "lab", "up", "-q", lab.path)
        out = wirework(state_dir, "lab", "exec", lab.name, "c1", "--", "ip", "-o", "addr", "show", "eth0").stdout
        assert "10.1.1.2/24" in out
        svg = os.path.join(str(tmp_path), "lab.svg")
        wirework(state_dir, "lab", "graph", lab.name, "--format", "svg", "-o", svg)
        with open(svg, encoding="utf-8") as f:
            assert "<svg" in f.read()
        assert "host h1" in wirework(state_dir, "lab", "graph", lab.path).stdout
    finally:
        wirework(state_dir, "lab", "down", lab.name, check=False)
    assert lab.owned() == NOTHING


def test_check_reports_a_mismatch(state_dir: str, tmp_path: Path) -> None:
    lab = Lab(ROUTED, tmp_path, edit=lambda text: text.replace("- {from: c1, to: 10.1.2.99, result: fail}",
                                                                "- {from: c1, to: 10.1.2.99}"))
    try:
        wirework(state_dir, "lab", "up", "-q", lab.path)
        done = wirework(state_dir, "lab", "check", lab.path, check=False)
        assert done.returncode == 1 and "MISMATCH" in done.stdout
    finally:
        wirework(state_dir, "lab", "down", lab.path, check=False)
    assert lab.owned() == NOTHING


@pytest.mark.parametrize("at", ["crash:4", "crash:14", "crash:30", "lab_start_program", "lab_host_setup"])
def test_interrupted_or_failed_up_leaves_nothing_after_down(at: str, state_dir: str, tmp_path: Path) -> None:
    lab = Lab(ROUTED, tmp_path)
    try:
        done = wirework(state_dir, "lab", "up", "-q", lab.path, env={"WIREWORK_FAIL_AT": at}, check=False)
        if at.startswith("crash"):
            assert done.returncode == 137, f"no crash at {at}: {done.returncode} {done.stderr}"
        else:
            assert done.returncode != 0 and "injected failure at step" in done.stderr, done.stderr
        if not at.startswith("crash"):
            assert lab.owned() == NOTHING  # rolled back by itself
        wirework(state_dir, "lab", "up", "-q", lab.path)  # a second up converges
        assert "17/17 as expected" in wirework(state_dir, "lab", "check", lab.name).stdout
    finally:
        wirework(state_dir, "lab", "down", lab.name, check=False)
    assert lab.owned() == NOTHING


def test_invalid_file_creates_nothing(state_dir: str, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    path = str(tmp_path / "src" / "bad.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write("name: bad\nhosts:\n  h1: {}\nsegments:\n  lan:\n    members:\n      h1: 10.0.0.1/24\n"
                "      h7: 10.0.0.2/24\n")
    lab = Lab(path, tmp_path)
    done = wirework(state_dir, "lab", "up", lab.path, check=False)
    assert done.returncode == 2 and f"{lab.path}:8: segment lan: unknown host 'h7'" in done.stderr, done.stderr
    assert lab.owned() == NOTHING


def test_delay_needs_netem_and_says_so(state_dir: str, tmp_path: Path) -> None:
    """What wirework does follows what the kernel has, found out here independently of
    wirework's own probe: netem applied where it exists, a clear refusal (nothing made) where not."""
    from wirework.kernel.labenv import netem_available

    kernel_has_netem = subprocess.run(["unshare", "--net", "tc", "qdisc", "add", "dev", "lo", "root", "netem",
                                       "delay", "1ms"], capture_output=True, check=False).returncode == 0
    assert netem_available() is kernel_has_netem
    (tmp_path / "src").mkdir()
    path = str(tmp_path / "src" / "slow.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write("name: slow\nhosts:\n  h1: {}\n  h2: {}\nsegments:\n  lan:\n    delay: 10ms\n"
                "    members: {h1: 10.0.0.1/24, h2: 10.0.0.2/24}\n")
    lab = Lab(path, tmp_path)  # its own lab: nobody else's run can touch or show it
    done = wirework(state_dir, "lab", "up", "-q", lab.path, check=False)
    try:
        if kernel_has_netem:
            assert done.returncode == 0, done.stderr
            qdiscs = "".join(subprocess.run(["tc", "-n", n, "qdisc", "show"], capture_output=True, text=True,
                                            check=False).stdout for n in lab.owned()["netns"])
            assert "netem" in qdiscs and "delay 10ms" in qdiscs, qdiscs
        else:
            assert done.returncode == 5, done.stderr
            assert done.stderr.strip() == (
                "wirework: tc netem (segment delay/loss) is not available on this host: this kernel has no netem "
                f"qdisc; remove delay:/loss: from segment lan ({lab.path}:6) or use rate: (tbf), which works")
            assert lab.owned() == NOTHING
    finally:
        wirework(state_dir, "lab", "down", lab.path, check=False)
    assert lab.owned() == NOTHING


VXLAN_OVERLAY = next(p for p in EXAMPLES if os.path.basename(p) == "vxlan-overlay.yaml")
OVS_OVERLAY = next(p for p in EXAMPLES if os.path.basename(p) == "ovs-overlay.yaml")


def row(out: str, *cells: str) -> bool:
    return any(line.split()[:len(cells)] == list(cells) for line in out.splitlines() if line.strip())


def test_vxlan_overlay_traffic_crosses_the_linux_vxlan(state_dir: str, tmp_path: Path) -> None:
    lab = Lab(VXLAN_OVERLAY, tmp_path)
    try:
        wirework(state_dir, "lab", "up", "-q", lab.path)
        out = wirework(state_dir, "lab", "check", lab.path).stdout
        assert "12/12 as expected" in out, out
        assert row(out, "c1", "c2", "10.244.0.12", "mtu", "1450", "pass", "pass", "ok"), out
        assert row(out, "c1", "c2", "10.244.0.12", "mtu", "1451", "fail", "fail", "ok"), out
        for host, peers in (("h1", ("192.168.120.2", "192.168.120.3")), ("h3", ("192.168.120.1", "192.168.120.2"))):
            ns = lab.ns(host)
            fdb = subprocess.run(["bridge", "-n", ns, "fdb", "show", "dev", "vx42"], capture_output=True, text=True,
                                 check=True).stdout
            assert all(f"00:00:00:00:00:00 dst {p} self permanent" in fdb for p in peers), fdb
            stats = subprocess.run(["ip", "-n", ns, "-s", "-j", "link", "show", "vx42"], capture_output=True,
                                   text=True, check=True).stdout
            import json

            link = json.loads(stats)[0]
            assert link["stats64"]["tx"]["packets"] > 0 and link["stats64"]["rx"]["packets"] > 0
            assert link["mtu"] == 1450 and link["ifalias"] == f"wirework:lab:{lab.name}"
        assert "nolearning" in subprocess.run(["ip", "-n", lab.ns("h2"), "-d", "link", "show", "vx42"],
                                              capture_output=True, text=True, check=True).stdout
    finally:
        down = wirework(state_dir, "lab", "down", lab.path, check=False)
    assert down.returncode == 0, down.stderr
    assert lab.owned() == NOTHING


def underlay_tx(ns: str) -> int:
    import json

    out = subprocess.run(["ip", "-n", ns, "-s", "-j", "link", "show", "eth0"], capture_output=True, text=True,
                         check=True).stdout
    return int(json.loads(out)[0]["stats64"]["tx"]["packets"])


def test_ovs_overlay_traffic_crosses_the_gre_tunnel(state_dir: str, tmp_path: Path) -> None:
    lab = Lab(OVS_OVERLAY, tmp_path)
    try:
        wirework(state_dir, "lab", "up", "-q", lab.path)
        out = wirework(state_dir, "lab", "check", lab.path).stdout
        assert "6/6 as expected" in out, out
        assert row(out, "c1", "c2", "10.245.0.12", "mtu", "1462", "pass", "pass", "ok"), out
        assert row(out, "c1", "c2", "10.245.0.12", "mtu", "1463", "fail", "fail", "ok"), out
        db = f"unix:/run/wirework/lab/{lab.name}/ovs/h1/db.sock"
        ports = subprocess.run(["ovs-vsctl", f"--db={db}", "list-ports", "obr0"], capture_output=True, text=True,
                               check=True).stdout.split()
        assert [p for p in ports if p.startswith("gre")] == ["grec0a87902"], ports
        # c1 has no route to the underlay: what its pings add to h1's underlay NIC is GRE.
        sent = underlay_tx(lab.ns("h1"))
        ping = subprocess.run(["ip", "netns", "exec", lab.ns("c1"), "ping", "-c", "5", "-i", "0.05",
                               "10.245.0.12"], capture_output=True, text=True, check=False)
        assert ping.returncode == 0, ping.stdout
        assert underlay_tx(lab.ns("h1")) >= sent + 5
    finally:
        down = wirework(state_dir, "lab", "down", lab.path, check=False)
    assert down.returncode == 0, down.stderr
    assert lab.owned() == NOTHING


def test_vxlan_peer_errors_point_at_the_line_and_create_nothing(state_dir: str, tmp_path: Path) -> None:
    lab = Lab(VXLAN_OVERLAY, tmp_path)
    with open(lab.path, encoding="utf-8") as f:
        text = f.read().replace("peers: [h2, h3]}", "peers: [h2, h9]}").replace("vni: 42, bridge: br0, local: "
                                                                               "192.168.120.2", "vni: 0, bridge: br0, "
                                                                               "local: 192.168.120.2")
    path = os.path.join(str(tmp_path), "bad-vxlan.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    done = wirework(state_dir, "lab", "up", path, check=False)
    assert done.returncode == 2, done.stderr
    assert f"{path}:17: hosts/h2/setup/1/vxlan/vni: 0 is less than the minimum of 1" in done.stderr, done.stderr
    fixed = text.replace("vni: 0,", "vni: 42,")
    with open(path, "w", encoding="utf-8") as f:
        f.write(fixed)
    done = wirework(state_dir, "lab", "up", path, check=False)
    assert done.returncode == 2 and f"{path}:11: vxlan vx42 on h1: peer 'h9' is not a host of this lab" in done.stderr
    assert lab.owned() == NOTHING


OVS_GRE = next(p for p in EXAMPLES if os.path.basename(p) == "ovs-gre.yaml")


def test_a_lab_host_is_a_host_for_every_command(state_dir: str, tmp_path: Path) -> None:
    """Issue 12: --netns of a lab host reaches its own Open vSwitch and records, as does lab exec."""
    lab = Lab(OVS_GRE, tmp_path)
    h1 = lab.ns("h1")
    try:
        up = wirework(state_dir, "lab", "up", "-q", lab.path).stdout
        assert "2 hosts, 2 guests, 1 segment (" in up
        again = wirework(state_dir, "lab", "up", "-q", lab.path).stdout
        assert "(no changes: it was up already," in again, again
        (tunnel,) = json.loads(wirework(state_dir, "tunnel", "ls", "--json", "--netns", h1).stdout)
        assert (tunnel["bridge"], tunnel["remote"], tunnel.get("error")) == ("obr0", "192.168.115.6", None)
        plan = wirework(state_dir, "tunnel", "add", "obr0", "--remote", "192.168.115.9", "--netns", h1, "--dry-run")
        assert "add GRE tunnel port" in plan.stdout
        shown = wirework(state_dir, "lab", "exec", lab.name, "h1", "--", "ovs-vsctl", "show").stdout
        assert "Bridge obr0" in shown and "Bridge ul-eth0" in shown
        graph = wirework(state_dir, "lab", "graph", lab.path).stdout
        assert "  ul-eth0  192.168.115.5/24" in graph and "  eth0     192.168.115.5/24" not in graph
    finally:
        down = wirework(state_dir, "lab", "down", lab.name, check=False)
    assert down.stdout == f"lab {lab.name} removed\n"
    after = wirework(state_dir, "lab", "check", lab.path, check=False)
    assert after.returncode == 3 and after.stderr == (f"wirework: lab {lab.name} is not up; bring it up with "
                                                      f"'wirework lab up {lab.path}'\n")
    gone = wirework(state_dir, "ls", "--netns", h1, check=False)
    assert gone.returncode == 3 and f"no such network namespace {h1!r}" in gone.stderr
    assert lab.owned() == NOTHING


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

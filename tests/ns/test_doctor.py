"""`wirework doctor` (S12): each finding with what, why and the exact fix; non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Namespaces, sh
from tests.ns.helpers import cli
from wirework.api import Wirework


def _ids(host: str, state_dir: str, root: str) -> tuple[int, dict[str, dict[str, str]]]:
    done = cli(host, state_dir, "doctor", "--json", "--root", root, check=False)
    data = json.loads(done.stdout)
    return done.returncode, {f["id"] + ":" + f["what"]: f for f in data["findings"]}


def test_healthy_then_each_problem_found_with_its_fix(ww: Wirework, netns: Namespaces, state_dir: str,
                                                      tmp_path: Path) -> None:
    host = ww.host.netns
    assert host is not None
    root = str(tmp_path / "root")
    g = netns("dg")
    ww.network_create("doc", subnet="10.91.0.0/24")
    ww.connect("doc", g, publish=["8080:80", "127.0.0.1:5432:5432"])  # healthy ports are not "stale"
    code, found = _ids(host, state_dir, root)
    assert (code, found) == (0, {})
    assert cli(host, state_dir, "doctor", "--root", root).stdout.strip() == "no problems found"

    sh("sysctl", "-w", "net.ipv4.ip_forward=0", ns=host)  # S5
    sh("ip", "link", "set", "eth0", "mtu", "1400", ns=g)
    sh("ip", "link", "add", "up0", "type", "veth", "peer", "name", "up1", ns=host)
    sh("ip", "link", "set", "up0", "up", ns=host)
    sh("ip", "addr", "add", "10.99.0.1/24", "dev", "up0", ns=host)
    sh("ip", "route", "add", "10.91.0.128/25", "via", "10.99.0.2", ns=host)  # a VPN route, added later
    sh("ip", "link", "add", "ww-ghost", "type", "bridge", ns=host)
    sh("ip", "link", "set", "ww-ghost", "alias", "wirework:net:ghost", ns=host)
    (tmp_path / "root/etc/systemd/network").mkdir(parents=True)
    (tmp_path / "root/etc/systemd/network/10-all.network").write_text("[Match]\nName=ww* en*\n[Network]\nDHCP=yes\n")
    (tmp_path / "root/etc/NetworkManager/system-connections").mkdir(parents=True)
    (tmp_path / "root/etc/NetworkManager/system-connections/doc.nmconnection").write_text(
        "[connection]\nid=doc\ninterface-name=ww-doc\n")
    sh("iptables-legacy", "-A", "INPUT", "-j", "ACCEPT", ns=host)
    sh("iptables-nft", "-A", "INPUT", "-j", "ACCEPT", ns=host)

    code, found = _ids(host, state_dir, root)
    assert code == 1
    by_id = {k.split(":", 1)[0]: v for k, v in found.items()}
    assert set(by_id) == {"ip-forward-off", "mtu-mismatch", "subnet-collision", "stale-link", "networkd-manages",
                          "nm-manages", "nm-unmanaged-missing", "iptables-two-backends"}
    assert by_id["ip-forward-off"]["fix"] == f"ip netns exec {host} sysctl -w net.ipv4.ip_forward=1"
    assert "route 10.91.0.128/25 via 10.99.0.2 dev up0" in by_id["subnet-collision"]["what"]
    assert "MTU 1400" in by_id["mtu-mismatch"]["what"] and "mtu 1500" in by_id["mtu-mismatch"]["fix"]
    assert by_id["stale-link"]["fix"].startswith(f"ip -n {host} link del ww-ghost")
    assert "ww-doc" in by_id["networkd-manages"]["what"] and "Unmanaged=yes" in by_id["networkd-manages"]["fix"]
    assert all(f["why"] and f["fix"] for f in found.values())
    text = cli(host, state_dir, "doctor", "--root", root, check=False).stdout
    assert "[error] net.ipv4.ip_forward is 0" in text and f"    fix: ip netns exec {host} sysctl -w" in text


def test_forward_drop_without_accept(ww: Wirework, state_dir: str, tmp_path: Path) -> None:
    host = ww.host.netns
    assert host is not None
    sh("iptables", "-P", "FORWARD", "DROP", ns=host)  # as Docker leaves it (in the test's own host)
    ww.network_create("fd", subnet="10.92.0.0/24")  # adds the accepts itself
    code, found = _ids(host, state_dir, str(tmp_path))
    assert code == 0, found
    sh("iptables", "-F", "FORWARD", ns=host)  # someone flushes them
    code, found = _ids(host, state_dir, str(tmp_path))
    (finding,) = found.values()
    assert finding["id"] == "forward-drop" and "ww-fd" in finding["what"] and "wirework up" in finding["fix"]
    cli(host, state_dir, "up")
    assert _ids(host, state_dir, str(tmp_path))[0] == 0


def test_stale_port_and_interrupted_operation(ww: Wirework, netns: Namespaces, state_dir: str, tmp_path: Path) -> None:
    host = ww.host.netns
    assert host is not None
    g = netns("sp")
    ww.network_create("sp", subnet="10.93.0.0/24")
    done = cli(host, state_dir, "connect", "sp", g, "-p", "8080:80", env={"WIREWORK_FAIL_AT": "crash:fw_publish_port"},
               check=False)
    assert done.returncode == 137
    _, found = _ids(host, state_dir, str(tmp_path))
    ids = sorted(k.split(":", 1)[0] for k in found)
    assert "interrupted-operation" in ids and "stale-lease" in ids
    cli(host, state_dir, "up")
    assert _ids(host, state_dir, str(tmp_path)) == (0, {})

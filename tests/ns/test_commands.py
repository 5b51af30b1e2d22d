"""`--dry-run --format commands`, pasted into a root shell, makes what `apply` makes.

Each test prints a plan's commands for a "host" namespace, runs them with `sh -e` in the
root namespace (as a user would paste them), takes a snapshot of every namespace involved,
then builds the namespaces afresh under the same names, applies the same command for real
and compares. Before the fix, every printed command ran in the root namespace instead.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import Namespaces, sh
from tests.ns.helpers import cli


def paste(text: str) -> None:
    """Run printed commands as a root shell would (comments and notes included)."""
    body = "\n".join(line for line in text.splitlines() if not line.startswith(("note:", "would ", "skipped ")))
    # `wirework` lines (a lab host's setup) find this checkout's command first.
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ.get('PATH', '')}",
           "WIREWORK_NO_SERVICE": "1"}
    done = subprocess.run(["sh", "-e"], input=body, capture_output=True, text=True, timeout=60, check=False, env=env)
    assert done.returncode == 0, f"pasted commands failed:\n{body}\n---\n{done.stderr}"


def _nonce_free(text: str) -> str:
    return re.sub(r"(wirework:att:[0-9a-f]+)\.[0-9a-f]+", r"\1", text)


def _links(ns: str) -> list[Any]:
    out = []
    for link in json.loads(sh("ip", "-d", "-j", "link", "show", ns=ns)):
        info = link.get("linkinfo", {})
        out.append((link["ifname"], info.get("info_kind", ""), link.get("mtu"), link.get("master", ""),
                    "UP" in link.get("flags", []), _nonce_free(link.get("ifalias", "")),
                    info.get("info_data", {}).get("vlan_filtering", "")))
    return sorted(out)


def _addresses(ns: str) -> list[Any]:
    return sorted((a["ifname"], i["local"], i["prefixlen"]) for a in json.loads(sh("ip", "-j", "addr", ns=ns))
                  for i in a.get("addr_info", []) if not i["local"].startswith("fe80"))


def _routes(ns: str) -> list[Any]:
    routes = json.loads(sh("ip", "-j", "route", "show", "table", "all", ns=ns))
    return sorted(json.dumps({k: v for k, v in r.items() if k not in ("flags",)}, sort_keys=True)
                  for r in routes if not str(r.get("dst", "")).startswith(("fe80", "ff00", "multicast")))


def _strip_handles(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_handles(v) for k, v in value.items() if k not in ("handle", "metainfo")}
    if isinstance(value, list):
        return [_strip_handles(v) for v in value if not (isinstance(v, dict) and "metainfo" in v)]
    return value


def _nft(ns: str) -> str:
    return _nonce_free(json.dumps(_strip_handles(json.loads(sh("nft", "-j", "list", "ruleset", ns=ns))), sort_keys=True))


def state(*spaces: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for ns in spaces:
        sysctls = sh("sh", "-c", "sysctl -n net.ipv4.ip_forward; sysctl -a 2>/dev/null | grep route_localnet | sort",
                     ns=ns)
        out[ns] = {"links": _links(ns), "addresses": _addresses(ns), "routes": _routes(ns), "nft": _nft(ns),
                   "sysctl": sysctls}
    return out


def renew(*spaces: str) -> None:
    """The same namespaces again, empty (lo up), as the netns fixture makes them."""
    for ns in spaces:
        subprocess.run(["ip", "netns", "del", ns], check=True)
        subprocess.run(["ip", "netns", "add", ns], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)


def pasted_equals_applied(spaces: tuple[str, ...], state_dirs: tuple[str, str],
                          setup: Callable[[str], None], *argv: str) -> str:
    """Paste `argv --dry-run --format commands` (after `setup(state_dir)`), snapshot; renew the
    namespaces, `setup` again, apply `argv`, snapshot; the two must be equal. The printed text."""
    host = spaces[0]
    setup(state_dirs[0])
    printed = cli(host, state_dirs[0], *argv, "--dry-run", "--format", "commands").stdout
    assert f"-n {host}" in printed or f"exec {host}" in printed, printed  # placed in the host, not the root ns
    paste(printed)
    by_hand = state(*spaces)
    renew(*spaces)
    setup(state_dirs[1])
    cli(host, state_dirs[1], *argv)
    same(state(*spaces), by_hand)
    return printed


def same(applied: dict[str, Any], by_hand: dict[str, Any]) -> None:
    import difflib

    a, b = (json.dumps(x, indent=1, sort_keys=True).splitlines() for x in (applied, by_hand))
    assert a == b, "applied (-) and pasted (+) differ:\n" + "\n".join(difflib.unified_diff(a, b, lineterm="", n=1))


def _dirs(tmp_path: Path) -> tuple[str, str]:
    a, b = tmp_path / "pasted", tmp_path / "applied"
    a.mkdir()
    b.mkdir()
    return str(a), str(b)


def test_pipework_commands_run_in_the_host_namespace(netns: Namespaces, tmp_path: Path) -> None:
    h, g = netns("h"), netns("g")
    printed = pasted_equals_applied((h, g), _dirs(tmp_path), lambda d: None,
                                    "pipework", "br0", "-i", "eth1", f"netns:{g}", "10.91.0.5/24@10.91.0.1")
    assert f"ip -n {h} link add br0 type bridge" in printed
    # Nothing left for the root namespace: every line names the host or the guest.
    assert all(f" {h} " in line or f" {g} " in line for line in printed.splitlines()[1:]), printed


def test_network_create_commands_print_the_real_ruleset(netns: Namespaces, tmp_path: Path) -> None:
    h = netns("h")
    printed = pasted_equals_applied((h,), _dirs(tmp_path), lambda d: None,
                                    "network", "create", "web", "--subnet", "10.93.0.0/24", "--no-icc")
    assert "render_base" not in printed and f"ip netns exec {h} nft -j -f - <<'EOF'" in printed


def test_connect_commands_with_a_published_port(netns: Namespaces, tmp_path: Path) -> None:
    h, g = netns("h"), netns("g")

    def network(state_dir: str) -> None:
        cli(h, state_dir, "network", "create", "web", "--subnet", "10.94.0.0/24")

    pasted_equals_applied((h, g), _dirs(tmp_path), network,
                          "connect", "web", f"netns:{g}", "--ip", "10.94.0.7", "-p", "18095:80", "--default-route")


LAB = """name: {name}
hosts:
  h1:
    setup:
      - bridge: {{name: kbr0, address: 172.29.1.1/24}}
      - route: {{to: 172.29.2.0/24, via: 192.168.129.2}}
    guests:
      c1: {{attach: {{bridge: kbr0, ip: 172.29.1.2/24, gateway: 172.29.1.1}}}}
  h2:
    setup:
      - bridge: {{name: kbr0, address: 172.29.2.1/24}}
      - route: {{to: 172.29.1.0/24, via: 192.168.129.1}}
segments:
  lan:
    subnet: 192.168.129.0/24
    members: {{h1: 192.168.129.1/24, h2: 192.168.129.2/24}}
"""


def test_lab_up_commands(tmp_path: Path) -> None:
    from tests.conftest import RUN_ID

    name = f"cmds-{RUN_ID[:6]}"
    path = tmp_path / "lab.yaml"
    path.write_text(LAB.format(name=name))
    spaces = (*(f"wwl-{name}-{n}" for n in ("h1", "h2", "c1")), f"wwl-{name}.sw")
    pasted, applied = _dirs(tmp_path)
    env = {"WIREWORK_NO_SERVICE": "1"}
    try:
        printed = _lab(pasted, "up", "--dry-run", "--format", "commands", str(path), env=env)
        assert f"ip -n wwl-{name}.sw link add s0-lan type bridge" in printed
        assert f"--netns wwl-{name}-h1" in printed  # the guest's attach: wirework's own command, on h1
        paste(printed)
        by_hand = state(*spaces)
    finally:
        for ns in spaces:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
    try:
        _lab(applied, "up", "-q", str(path), env=env)
        same(state(*spaces), by_hand)
    finally:
        _lab(applied, "down", str(path), env=env)


def _lab(state_dir: str, *argv: str, env: dict[str, str]) -> str:
    from tests.conftest import wirework_cli

    return wirework_cli("lab", "--state-dir", state_dir, *argv, env=env).stdout


def test_doctor_fixes_run_where_the_problem_is(netns: Namespaces, tmp_path: Path) -> None:
    h, g = netns("h"), netns("g")
    state_dir = str(tmp_path)
    cli(h, state_dir, "network", "create", "web", "--subnet", "10.95.0.0/24")
    cli(h, state_dir, "connect", "web", f"netns:{g}")
    sh("ip", "link", "set", "eth0", "mtu", "1400", ns=g)
    sh("sysctl", "-qw", "net.ipv4.ip_forward=0", ns=h)
    done = cli(h, state_dir, "doctor", "--json", check=False)
    fixes = {f["id"]: f["fix"] for f in json.loads(done.stdout)["findings"]}
    assert fixes["ip-forward-off"] == f"ip netns exec {h} sysctl -w net.ipv4.ip_forward=1"
    assert fixes["mtu-mismatch"].startswith(f"ip -n {g} link set eth0 mtu 1500")
    paste(fixes["ip-forward-off"] + "\n" + fixes["mtu-mismatch"].split(",")[0])
    assert cli(h, state_dir, "doctor", check=False).stdout.strip() == "no problems found"

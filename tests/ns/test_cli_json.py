"""Every command with `--json` prints valid JSON, walked from the parser: a command with no case
below fails the test (add one), so commands that other branches add are covered too.

One world for all of them: a "host" namespace with its own Open vSwitch and an underlay
veth, two guest namespaces, a small lab; each command runs through the real CLI, in order.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import RUN_ID, Namespaces, sh
from tests.unit.test_cli import leaves
from wirework.cli.app import build_parser

LAB = """name: {name}
hosts:
  h1:
    guests:
      c1: {{attach: {{bridge: br0, ip: 10.97.1.2/24, gateway: 10.97.1.1}}}}
    setup:
      - bridge: {{name: br0, address: 10.97.1.1/24}}
segments:
  lan:
    members: {{h1: 10.97.0.1/24}}
expect:
  - {{from: c1, to: h1}}
"""


#: What a command reads besides its arguments (environment, stdin).
INPUTS: dict[tuple[str, ...], dict[str, Any]] = {
    ("cni", "plugin"): {"env": {"CNI_COMMAND": "VERSION"}, "input": '{"cniVersion": "1.0.0"}'},
}
NO_NETNS = ("lab", "service", "cni")  # commands without a host namespace of their own


def cases(h: str, g1: str, g2: str, lab: str, lab_file: str,
          tmp: str) -> list[tuple[tuple[str, ...], list[str], set[int]]]:
    """(command path, its arguments, exit statuses that are right here) in the order they run."""
    ok = {0}
    return [
        (("attach",), ["attach", f"netns:{g1}", "br0", "--ip", "10.96.1.5/24"], ok),
        (("pipework",), ["pipework", "br0", "-i", "eth2", f"netns:{g1}", "10.96.1.6/24"], ok),
        (("ls",), ["ls"], ok),
        (("bridges",), ["bridges"], ok),
        (("inspect",), ["inspect", f"netns:{g1}"], ok),
        (("route",), ["route", f"netns:{g1}", "add", "10.96.9.0/24", "via", "10.96.1.1", "dev", "eth1"], ok),
        (("rule",), ["rule", f"netns:{g1}", "add", "from", "10.96.1.0/24", "table", "100"], ok),
        (("tc",), ["tc", f"netns:{g1}", "qdisc", "add", "dev", "eth1", "root", "tbf", "rate", "10mbit", "burst",
                   "10kb", "latency", "50ms"], ok),
        (("detach",), ["detach", f"netns:{g1}", "-i", "eth2"], ok),
        (("network", "create"), ["network", "create", "web", "--subnet", "10.96.2.0/24"], ok),
        (("network", "ls"), ["network", "ls"], ok),
        (("network", "inspect"), ["network", "inspect", "web"], ok),
        (("network", "link"), ["network", "link", "web", "web2"], ok),
        (("network", "unlink"), ["network", "unlink", "web", "web2"], ok),
        (("connect",), ["connect", "web", f"netns:{g2}", "-p", "18096:80"], ok),
        (("port",), ["port", f"netns:{g2}"], ok),
        (("check",), ["check", "--no-probe"], ok),
        (("disconnect",), ["disconnect", "web", f"netns:{g2}"], ok),
        (("run",), ["run", "--net", "web", "--name", f"r{RUN_ID}", "-d", "--", "sleep", "30"], ok),
        (("ps",), ["ps"], ok),
        (("rm",), ["rm", f"r{RUN_ID}"], ok),
        (("network", "rm"), ["network", "rm", "web2"], ok),
        (("up",), ["up"], ok),
        (("doctor",), ["doctor"], {0, 1}),  # 1: findings (this machine's iptables backends, say)
        (("gc",), ["gc"], ok),
        (("tunnel", "add"), ["tunnel", "add", "obr0", "--remote", "10.96.5.2"], ok),
        (("tunnel", "ls"), ["tunnel", "ls"], ok),
        (("tunnel", "rm"), ["tunnel", "rm", "obr0", "10.96.5.2"], ok),
        (("uplink",), ["uplink", "--undo", "ul-ul0", "ul0"], ok),
        (("service",), ["service", "status"], {3}),  # 3: not running (a socket of this test's own)
        (("lab", "up"), ["lab", "up", "-q", lab_file], ok),
        (("lab", "status"), ["lab", "status"], ok),
        (("lab", "check"), ["lab", "check", lab], ok),
        (("lab", "exec"), ["lab", "exec", lab, "c1", "--", "ip", "-o", "addr", "show", "eth0"], ok),
        (("lab", "graph"), ["lab", "graph", lab], ok),
        (("lab", "down"), ["lab", "down", lab], ok),
        (("cni", "install"), ["cni", "install", "--dir", os.path.join(tmp, "cni")], ok),
        (("cni", "plugin"), ["cni", "plugin"], ok),
    ]


def run(argv: list[str], env: dict[str, str], given: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
    given = given or {}
    return subprocess.run([sys.executable, "-m", "wirework.cli.main", *argv], capture_output=True, text=True,
                          env={**env, **given.get("env", {})}, input=given.get("input", ""), timeout=120, check=False)


def test_every_command_prints_json(netns: Namespaces, tmp_path: Path) -> None:
    from wirework.kernel.ovs_instance import default_rundir, start_instance

    h, g1, g2 = netns("h"), netns("g1"), netns("g2")
    sh("ip", "link", "add", "ul0", "type", "veth", "peer", "name", "ul0p", ns=h)
    sh("ip", "addr", "add", "10.96.5.1/24", "dev", "ul0", ns=h)
    sh("ip", "link", "set", "ul0", "up", ns=h)
    sh("ip", "link", "set", "ul0p", "up", ns=h)
    lab = f"json-{RUN_ID[:6]}"
    lab_file = tmp_path / "lab.yaml"
    lab_file.write_text(LAB.format(name=lab))
    state = tmp_path / "state"
    state.mkdir()
    env = {**os.environ, "WIREWORK_NO_SERVICE": "1", "WIREWORK_STATE_DIR": str(state),
           "WIREWORK_SOCKET": str(tmp_path / "ww.sock")}
    instance = start_instance(h)
    table = cases(h, g1, g2, lab, str(lab_file), str(tmp_path))
    missing = set(leaves(build_parser())) - {path for path, _, _ in table}
    assert not missing, f"commands with no --json case in tests/ns/test_cli_json.py: {sorted(missing)}"
    try:
        run(["network", "create", "web2", "--subnet", "10.96.3.0/24", "--netns", h], env)
        for path, argv, codes in table:
            # Options right after the command's words: before `lab exec`'s and `run`'s own words.
            options = ["--json"] + ([] if path[0] in NO_NETNS else ["--netns", h])
            done = run([*path, *options, *argv[len(path):]], env, INPUTS.get(path))
            assert done.returncode in codes, f"{' '.join(argv)}: {done.returncode} {done.stderr}"
            try:
                json.loads(done.stdout)
            except ValueError:
                raise AssertionError(f"wirework {' '.join(argv)} --json printed no JSON:\n{done.stdout}") from None
    finally:
        run(["lab", "down", lab], env)
        run(["rm", f"r{RUN_ID}", "--netns", h], env)  # when the walk stopped before its `rm`
        instance.stop()
        shutil.rmtree(default_rundir(h), ignore_errors=True)

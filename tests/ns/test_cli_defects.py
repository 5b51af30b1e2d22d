"""Issue 12 on the real kernel: what a new user tripped over, each through the real CLI.

A throwaway "host" namespace and guest namespaces; every command goes through
`tests.ns.helpers.cli` (which adds --netns HOST --state-dir DIR).
"""

from __future__ import annotations

import json
import subprocess
import time

from tests.conftest import RUN_ID, Namespaces, sh
from tests.ns.helpers import cli


def one_line_error(done: subprocess.CompletedProcess[str], code: int, *parts: str) -> None:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == "" and done.stderr.count("\n") == 1 and done.stderr.startswith("wirework: "), done.stderr
    for part in parts:
        assert part in done.stderr, done.stderr


def test_a_failed_run_leaves_nothing(netns: Namespaces, state_dir: str) -> None:
    host = netns("h")
    name = f"wwr{RUN_ID}x"
    done = cli(host, state_dir, "run", "--net", "nosuchnet", "--name", name, "--", "true", check=False)
    one_line_error(done, 3, "network 'nosuchnet' not found")
    cli(host, state_dir, "network", "create", "web", "--subnet", "10.98.0.0/24")
    held = f"wwr{RUN_ID}p"
    cli(host, state_dir, "run", "-d", "--net", "web", "--name", held, "-p", "18097:80", "--", "sleep", "60")
    try:
        # Refused late, while connecting (the port is taken): what was made is removed again.
        done = cli(host, state_dir, "run", "--net", "web", "--name", name, "-p", "18097:80", "--", "true", check=False)
        one_line_error(done, 4, f"already published by guest {held}")
        assert [r["name"] for r in json.loads(cli(host, state_dir, "ps", "--json").stdout)] == [held]
        assert name not in sh("ip", "netns", "list")
        guests = json.loads(cli(host, state_dir, "network", "inspect", "web", "--json").stdout)
        assert [g["guest"] for g in guests["guests"]] == [held] and len(guests["leases"]) == 1
    finally:
        cli(host, state_dir, "rm", held)


def test_check_counts_a_server_that_never_speaks_first_as_reachable(netns: Namespaces, state_dir: str) -> None:
    host = netns("h")
    name = f"wwr{RUN_ID}h"
    cli(host, state_dir, "network", "create", "web", "--subnet", "10.98.1.0/24")
    cli(host, state_dir, "run", "-d", "--net", "web", "--name", name, "-p", "18098:80", "--",
        "busybox", "httpd", "-f", "-p", "80", "-h", "/")
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and ":80 " not in sh("ss", "-ltn", ns=name):
            time.sleep(0.05)
        result = json.loads(cli(host, state_dir, "check", "--json", check=False).stdout)
        cells = {(c["source"], c["target"]): c for c in result["cells"]}
        cell = cells[("host", f"{name}:*:18098/tcp")]
        assert cell["expected"] and cell["observed"], cell  # HTTP waits for the request
        assert result["consistent"], [c for c in result["cells"] if c["observed"] != c["expected"]]
    finally:
        cli(host, state_dir, "rm", name)


def test_typos_fail_with_one_line_and_a_near_name(netns: Namespaces, state_dir: str) -> None:
    host, g = netns("h"), netns("guest1")
    cli(host, state_dir, "network", "create", "web", "--subnet", "10.98.2.0/24")
    cli(host, state_dir, "connect", "web", f"netns:{g}", "-p", "18099:80")
    one_line_error(cli(host, state_dir, "detach", f"{g}x", check=False), 3, f"did you mean {g!r}?")
    one_line_error(cli(host, state_dir, "port", f"{g}x", check=False), 3, f"did you mean {g!r}?")
    one_line_error(cli(host, state_dir, "network", "inspect", "webb", check=False), 3, "did you mean 'web'?")
    one_line_error(cli(host, state_dir, "connect", "webb", g, check=False), 3, "did you mean 'web'?")
    one_line_error(cli(host, state_dir, "connect", g, "web", check=False), 2,
                   f"web is a network and {g} is not: the network comes first (wirework connect web {g})")
    one_line_error(cli(host, state_dir, "network", "inspect", "bridge", check=False), 3,
                   "it is the mode of the default network wirework0", "use 'wirework0'")
    one_line_error(cli("wwt-never-made", state_dir, "ls", check=False), 3,
                   "no such network namespace 'wwt-never-made'")
    # A guest's network connection is not detach's: it points at the command that is.
    one_line_error(cli(host, state_dir, "detach", g, check=False), 4,
                   f"use 'wirework disconnect web {g} --netns {host}'")
    cli(host, state_dir, "disconnect", "web", g)
    assert cli(host, state_dir, "detach", g).stdout == f"nothing to detach for {g}\n"  # a real guest: fine
    # Its attachments are on another host (--netns): say where.
    cli(host, state_dir, "attach", g, "br0", "--ip", "10.98.2.77/24")
    other = netns("other")
    one_line_error(cli(other, state_dir, "detach", g, check=False), 3,
                   f"{g} has no attachments on this host; it has on --netns {host}: 'wirework detach {g} --netns {host}'")


def test_hints_name_flags_and_names_that_exist(netns: Namespaces, state_dir: str) -> None:
    host, g = netns("h"), netns("g")
    # A dry run changes nothing, not even by making the default network it would need.
    one_line_error(cli(host, state_dir, "connect", "wirework0", g, "--dry-run", check=False), 3,
                   "the default network wirework0 does not exist yet")
    assert "ww-wirework0" not in sh("ip", "-o", "link", ns=host)
    cli(host, state_dir, "network", "create", "web", "--subnet", "10.98.10.0/24")
    taken = cli(host, state_dir, "connect", "web", f"netns:{g}", "-i", "lo", check=False)
    assert taken.returncode != 0 and "-i/--ifname" in taken.stderr
    assert "on eth5" in cli(host, state_dir, "connect", "web", f"netns:{g}", "-i", "eth5").stdout  # -i exists
    name = f"wwr{RUN_ID}b"
    done = cli(host, state_dir, "run", "--net", "bridge", "--name", name, "--", "true")
    assert done.stderr == "note: --net bridge: the guest joins wirework's default network wirework0\n"


def test_repeats_say_what_is_there(netns: Namespaces, state_dir: str) -> None:
    host = netns("h")
    cli(host, state_dir, "network", "create", "web", "--subnet", "10.98.3.0/24")
    again = cli(host, state_dir, "network", "create", "web", "--subnet", "10.98.3.0/24")
    assert again.stdout == "network web (10.98.3.0/24, gateway 10.98.3.1, bridge ww-web) already exists\n"
    other = cli(host, state_dir, "network", "create", "web", "--subnet", "10.98.4.0/24", check=False)
    one_line_error(other, 4, "network web already exists with subnet 10.98.3.0/24")
    assert cli(host, state_dir, "uplink", "--undo", "br0").returncode == 0
    second = cli(host, state_dir, "uplink", "--undo", "br0")
    assert second.returncode == 0 and f"wirework uplink --list --netns {host}" in second.stdout


def test_views_agree(netns: Namespaces, state_dir: str) -> None:
    host, a, b = netns("h"), netns("zeta"), netns("alpha")
    cli(host, state_dir, "network", "create", "web", "--subnet", "10.98.5.0/24")
    cli(host, state_dir, "network", "create", "db", "--subnet", "10.98.6.0/24")
    sh("sysctl", "-qw", "net.ipv4.ip_forward=0", ns=host)
    plan = cli(host, state_dir, "up", "--dry-run").stdout
    assert plan.count("enable IPv4 forwarding") == 1, plan
    for guest in (a, b):
        cli(host, state_dir, "attach", f"netns:{guest}", "br0", "-i", "eth1", "--ip", f"10.98.7.{len(guest)}/24")
        cli(host, state_dir, "attach", f"netns:{guest}", "br0", "-i", "eth2", "--ip", f"10.98.8.{len(guest)}/24")
    rows = [line.split()[0] for line in cli(host, state_dir, "ls").stdout.splitlines()[1:]]
    assert rows == sorted(rows) and sorted(rows) == sorted([a, a, b, b])  # by guest, its rows together
    text = cli(host, state_dir, "connect", "web", f"netns:{a}", "--dry-run", "--format", "commands").stdout
    assert "proto static" in text and "proto 4" not in text
    name = f"wwr{RUN_ID}v"
    cli(host, state_dir, "run", "-d", "--net", "db", "--name", name, "--", "sleep", "60")
    try:
        (row,) = json.loads(cli(host, state_dir, "ps", "--json").stdout)
        info = json.loads(cli(host, state_dir, "inspect", f"netns:{name}", "--json").stdout)
        assert row["mode"] == info["guest"]["mode"] == "db"
        assert "network mode db" in cli(host, state_dir, "inspect", name).stdout
    finally:
        cli(host, state_dir, "rm", name)


def test_port_takes_dockers_private_port_filter(netns: Namespaces, state_dir: str) -> None:
    host, g = netns("h"), netns("g")
    cli(host, state_dir, "network", "create", "web", "--subnet", "10.98.9.0/24")
    cli(host, state_dir, "connect", "web", f"netns:{g}", "-p", "18100:80", "-p", "18101:53/udp")
    assert cli(host, state_dir, "port", g).stdout == "80/tcp -> 0.0.0.0:18100\n53/udp -> 0.0.0.0:18101\n"
    assert cli(host, state_dir, "port", g, "80").stdout == "0.0.0.0:18100\n"
    assert cli(host, state_dir, "port", g, "53/udp").stdout == "0.0.0.0:18101\n"
    one_line_error(cli(host, state_dir, "port", g, "53", check=False), 3, "no public port 53/tcp is published")

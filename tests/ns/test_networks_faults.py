"""Fail `network create` and `connect` at every step, kill `run` at every step: rollback, then
`up` or a repeat converges, and nothing leaks (no interface, address, lease or rule). Kills of
`network create` and `connect` at every step: tests/ns/test_crash_kill.py."""

from __future__ import annotations

import difflib
import subprocess

import pytest

from tests.conftest import Namespaces, sh
from tests.ns.helpers import cli, world
from wirework.api import Wirework


def _steps(host: str, state_dir: str, *args: str) -> int:
    import json

    out = cli(host, state_dir, *args, "--dry-run", "--json").stdout
    return len(json.loads(out)["plan"]["steps"])


def _interrupted(done: subprocess.CompletedProcess[str], mode: str, index: int) -> None:
    """The injected fault really hit step `index`: a crash kills (137), a failure names the step."""
    if mode == "crash":
        assert done.returncode == 137, f"no crash at step {index}: {done.returncode} {done.stderr}"
    else:
        assert done.returncode != 0 and f"injected failure at step {index}" in done.stderr, done.stderr


def _same(before: str, after: str) -> None:
    assert after == before, "\n".join(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm=""))


@pytest.mark.parametrize("mode", ["fail"])
def test_network_create_interrupted_at_every_step(ww: Wirework, mode: str, state_dir: str) -> None:
    host = ww.host.netns
    assert host is not None
    sh("sysctl", "-w", "net.ipv4.ip_forward=0", ns=host)
    args = ("network", "create", "faulty", "--subnet", "10.71.0.0/24")
    n = _steps(host, state_dir, *args)
    assert n >= 5
    before = world(host, [], state_dir)
    for i in range(n):
        # Forwarding, once turned on, stays on (a crash may leave it so): reset it for the next plan.
        sh("sysctl", "-w", "net.ipv4.ip_forward=0", ns=host)
        fault = str(i) if mode == "fail" else f"crash:{i}"
        done = cli(host, state_dir, *args, env={"WIREWORK_FAIL_AT": fault}, check=False)
        _interrupted(done, mode, i)
        if mode == "crash":
            cli(host, state_dir, "up")
        _same(before, world(host, [], state_dir))
    cli(host, state_dir, *args)  # and then it works
    assert "10.71.0.1/24" in sh("ip", "addr", "show", "ww-faulty", ns=host)


@pytest.mark.parametrize("mode", ["fail"])
def test_connect_interrupted_at_every_step(ww: Wirework, netns: Namespaces, mode: str, state_dir: str) -> None:
    host = ww.host.netns
    assert host is not None
    g = netns("fg")
    ww.network_create("fnet", subnet="10.72.0.0/24")
    args = ("connect", "fnet", g, "--default-route", "-p", "8080:80", "-p", "127.0.0.1:8081:81/udp")
    n = _steps(host, state_dir, *args)
    before = world(host, [g], state_dir)
    for i in range(n):
        fault = str(i) if mode == "fail" else f"crash:{i}"
        done = cli(host, state_dir, *args, env={"WIREWORK_FAIL_AT": fault}, check=False)
        _interrupted(done, mode, i)
        if mode == "crash" and i % 2:
            cli(host, state_dir, *args)  # a repeat converges ...
            cli(host, state_dir, "disconnect", "fnet", g)
        elif mode == "crash":
            cli(host, state_dir, "up")  # ... and so does up
        after = world(host, [g], state_dir)
        _same(before, "\n".join(ln for ln in after.splitlines() if "/last/" not in ln and "/cursor=" not in ln))  # hints, not leases
    cli(host, state_dir, *args)
    assert "default via 10.72.0.1" in sh("ip", "route", ns=g)


def test_run_interrupted_at_every_step(ww: Wirework, netns: Namespaces, state_dir: str) -> None:
    host = ww.host.netns
    assert host is not None
    ww.network_create("rnet", subnet="10.73.0.0/24")
    before = world(host, [], state_dir)
    # run executes two plans (the namespace, then the connect), each counting its steps from 0:
    # crash:i hits step i of the first plan long enough; once no plan has a step i, run completes.
    crashed = 0
    for i in range(12):
        done = cli(host, state_dir, "run", "--net", "rnet", "--name", f"wwtcrash{i}", "--", "true",
                   env={"WIREWORK_FAIL_AT": f"crash:{i}"}, check=False)
        if done.returncode == 0:
            break
        assert done.returncode == 137, f"no crash at step {i}: {done.returncode} {done.stderr}"
        crashed += 1
        cli(host, state_dir, "up")
        after = world(host, [], state_dir)
        _same(before, "\n".join(ln for ln in after.splitlines() if "/last/" not in ln and "/cursor=" not in ln))  # hints, not leases
        assert f"wwtcrash{i}" not in sh("ip", "netns", "list"), done.stderr
    steps = len(ww.connect("rnet", netns("probe"), dry_run=True).plan.steps)
    assert crashed == max(2, steps) and done.returncode == 0, "a crash at every step of both plans, then a run"

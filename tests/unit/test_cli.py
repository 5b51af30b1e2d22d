"""Every (sub)command, taken from the parser itself (so new ones are covered without a list):
`--help` prints its own usage once; a wrong argument prints one line on stderr with the
command's own usage and exits 2, changing nothing; with `--json`, that error is JSON too.
The `--json` output of every command is checked in `tests/ns/test_cli_json.py`."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from collections.abc import Iterator

import pytest

from wirework.cli.app import build_parser, run


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command path: groups ("network") and their actions ("network", "create")."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name)
                yield from commands(sub, (*path, name))


def leaves(parser: argparse.ArgumentParser) -> list[tuple[str, ...]]:
    """The command paths that run something (no further action below them)."""
    all_paths = list(commands(parser))
    return [p for p in all_paths if not any(q[:len(p)] == p and len(q) > len(p) for q in all_paths)]


ALL = list(commands(build_parser()))


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_the_walk_sees_every_command() -> None:
    names = {p[0] for p in ALL}
    assert {"attach", "pipework", "network", "connect", "lab", "uplink", "tunnel", "doctor", "port"} <= names
    assert ("network", "create") in ALL and ("lab", "exec") in ALL and ("tunnel", "ls") in ALL


@pytest.mark.parametrize("path", ALL, ids=" ".join)
def test_help_prints_its_own_usage(path: tuple[str, ...]) -> None:
    code, out, err = cli(*path, "--help")
    assert code == 0 and err == ""
    assert out.startswith(f"usage: wirework {' '.join(path)}"), out
    assert "usage: usage:" not in out and out.count("usage:") == 1


@pytest.mark.parametrize("path", ALL, ids=" ".join)
def test_a_wrong_argument_prints_one_line_with_its_own_usage(path: tuple[str, ...]) -> None:
    code, out, err = cli(*path, "--no-such-option")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("wirework: "), err
    assert f"usage: wirework {' '.join(path)}" in err, err


@pytest.mark.parametrize("path", leaves(build_parser()), ids=" ".join)
def test_a_wrong_argument_with_json_is_a_json_error(path: tuple[str, ...]) -> None:
    code, out, err = cli(*path, "--json", "--no-such-option")
    assert code == 2 and err.count("\n") == 1
    assert json.loads(out) == {"error": err.strip().removeprefix("wirework: "), "exit_code": 2}


@pytest.mark.parametrize(("argv", "usage"), [
    (["port", "web1", "80", "90"], "usage: wirework port [OPTIONS] GUEST [PRIVATE_PORT[/PROTO]]"),
    (["network", "inspect"], "usage: wirework network inspect [OPTIONS] NAME"),
    (["lab", "status", "extra"], "usage: wirework lab status [OPTIONS]"),
    (["attach"], "usage: wirework attach [OPTIONS] GUEST [HOST_IF]"),
])
def test_argument_errors_name_the_subcommand_not_the_top_level(argv: list[str], usage: str) -> None:
    code, out, err = cli(*argv)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert usage in err and "COMMAND ..." not in err


def test_options_stand_before_or_after_the_action(tmp_path: object) -> None:
    for argv in (["lab", "--state-dir", str(tmp_path), "status"], ["lab", "status", "--state-dir", str(tmp_path)]):
        code, out, err = cli(*argv)
        assert (code, out, err) == (0, "no lab is up\n", ""), argv
    parser = build_parser()
    before = parser.parse_args(["network", "--netns", "h1", "ls"])
    after = parser.parse_args(["network", "ls", "--netns", "h1"])
    first = parser.parse_args(["--netns", "h1", "--json", "network", "ls"])
    assert before.netns == after.netns == first.netns == "h1" and first.json


def test_every_command_that_changes_something_takes_dry_run() -> None:
    readers = {("ls",), ("inspect",), ("ps",), ("port",), ("check",), ("doctor",), ("network", "ls"),
               ("network", "inspect"), ("lab", "status"), ("lab", "check"), ("lab", "graph"), ("tunnel", "ls"),
               ("bridges",)}
    parser = build_parser()
    for path in leaves(parser):
        sub = parser
        for word in path:
            sub = next(a for a in sub._actions if isinstance(a, argparse._SubParsersAction)).choices[word]
        flags = {o for a in sub._actions for o in a.option_strings}
        assert "--json" in flags, path
        assert path in readers or "--dry-run" in flags, path


def test_plans_name_route_protocols() -> None:
    from wirework.cli.render import render_plan
    from wirework.drivers.routes import AddRoute
    from wirework.model.host import RouteSpec
    from wirework.plan.steps import Plan

    plan = Plan("uplink", "uplink:br0", (AddRoute(RouteSpec("default", gateway="10.0.0.1", dev="br0", proto=3)),
                                         AddRoute(RouteSpec("10.1.0.0/16", gateway="10.0.0.2", dev="br0", proto=4))))
    text = render_plan(plan)
    assert "proto boot" in text and "proto static" in text and "proto 3" not in text and "proto 4" not in text
    assert "Plan: uplink (uplink:br0), 2 steps" in text
    assert "1 step\n" in render_plan(Plan("uplink", "uplink:br0", plan.steps[:1]))

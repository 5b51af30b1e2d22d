"""lab up/down/status/check/exec/graph: several hosts built from namespaces on this machine."""

from __future__ import annotations

import argparse
import base64
import shlex
import sys
from typing import Any

from wirework.cli.app import add_dry_run, add_json
from wirework.cli.render import count, dumps, show_plan, table
from wirework.errors import InvalidInput


def _state_dir(p: argparse.ArgumentParser) -> None:
    # On the group and on each action, so it may stand before or after the action.
    p.add_argument("--state-dir", default=argparse.SUPPRESS,
                   help="state store directory (default /var/lib/wirework, env WIREWORK_STATE_DIR)")


def register(sub: Any) -> None:
    lab = sub.add_parser("lab", help="build several hosts out of network namespaces from a YAML file")
    _state_dir(lab)
    cmds = lab.add_subparsers(dest="lab_command", metavar="ACTION", required=True)
    p = cmds.add_parser("up", help="create or converge the lab described by FILE")
    p.add_argument("file")
    add_dry_run(p)
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_up)
    p = cmds.add_parser("down", help="remove everything the lab made (FILE or lab NAME)")
    p.add_argument("lab", metavar="LAB", help="lab FILE or NAME")
    add_dry_run(p, plan=False)
    p.set_defaults(func=cmd_down)
    p = cmds.add_parser("status", help="labs that are up, their namespaces and programs")
    p.set_defaults(func=cmd_status)
    p = cmds.add_parser("check", help="run the file's expected-reachability matrix")
    p.add_argument("lab", metavar="LAB", help="lab FILE or NAME")
    p.set_defaults(func=cmd_check)
    p = cmds.add_parser("exec", help="run a command inside a lab host or guest: lab exec [LAB] NODE -- CMD",
                        usage="wirework lab exec [--json] [--dry-run] [--state-dir DIR] [LAB] NODE -- COMMAND ...")
    add_dry_run(p, plan=False)
    p.add_argument("words", nargs=argparse.REMAINDER, metavar="[LAB] NODE -- COMMAND")
    p.set_defaults(func=cmd_exec)
    p = cmds.add_parser("graph", help="draw the topology (text, dot, svg, png, pdf)")
    p.add_argument("lab", metavar="LAB", help="lab FILE or NAME")
    p.add_argument("--format", choices=("text", "dot", "svg", "png", "pdf"),
                   help="default: what the -o file's extension says (.txt .dot .gv .svg .png .pdf), else text")
    p.add_argument("-o", "--output", help="write to this file instead of standard output")
    p.set_defaults(func=cmd_graph)
    for action in cmds.choices.values():
        _state_dir(action)
        add_json(action)


def _manager(args: argparse.Namespace) -> Any:
    from wirework.api.lab import lab_manager

    return lab_manager(getattr(args, "state_dir", None))


def cmd_up(args: argparse.Namespace) -> int:
    mgr = _manager(args)
    topo = mgr.load(args.file)

    def progress(index: int, total: int, step: Any) -> None:
        if not args.quiet and not args.json:
            print(f"[{index + 1:3}/{total}] {step.describe()}", file=sys.stderr, flush=True)

    result = mgr.up(topo, dry_run=args.dry_run, progress=progress)
    if args.dry_run:
        return show_plan(args, result.plan, mgr.commands(topo, result.plan))
    sizes = (f"{count(len(topo.hosts), 'host')}, {count(len(topo.guests), 'guest')}, "
             f"{count(len(topo.segments), 'segment')}")
    if args.json:
        print(dumps({"lab": topo.name, "file": topo.path, "hosts": len(topo.hosts), "guests": len(topo.guests),
                     "segments": len(topo.segments), "changes": result.changed, "seconds": round(result.seconds, 3)}))
        return 0
    changes = count(result.changed, "change") if result.changed else "no changes: it was up already"
    print(f"lab {topo.name} is up: {sizes} ({changes}, {result.seconds:.2f} s)")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    mgr = _manager(args)
    name = mgr.require_known(args.lab)
    if args.dry_run:
        what = f"stop the programs and Open vSwitch instances of lab {name}, delete its namespaces and run dir"
        print(dumps({"dry_run": True, "lab": name, "steps": [what]}) if args.json else f"would {what}")
        return 0
    errors = mgr.down(args.lab)
    if args.json:
        print(dumps({"lab": name, "removed": not errors, "left": errors}))
        return 0 if not errors else 6
    for e in errors:
        print(f"wirework: left behind: {e}", file=sys.stderr)
    print(f"lab {name} removed" if not errors else f"lab {name} partly removed; run 'wirework lab down {name}' again")
    return 0 if not errors else 6


def cmd_status(args: argparse.Namespace) -> int:
    labs = _manager(args).status()
    if args.json:
        print(dumps([{"name": st.name, "file": st.path, "namespaces": st.namespaces, "programs": st.programs,
                      "ovs": st.ovs} for st in labs]))
        return 0
    if not labs:
        print("no lab is up")
        return 0
    for st in labs:
        print(f"lab {st.name} ({st.path}): {count(len(st.namespaces), 'namespace')}")
        for name, alive in st.programs.items():
            print(f"  program {name}: {'running' if alive else 'STOPPED'}")
        for ns, running in st.ovs.items():
            print(f"  Open vSwitch of {ns}: {'running' if running else 'STOPPED'}")
        if st.etcd:
            print(f"  etcd: {st.etcd}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from wirework.lab.check import HEADERS, run_matrix, table_rows

    mgr = _manager(args)
    topo = mgr.topology(args.lab)
    mgr.require_up(topo)
    outcomes = run_matrix(topo, mgr.names(topo.name)) if topo.expects else []
    bad = sum(1 for o in outcomes if not o.ok)
    if args.json:
        print(dumps({"lab": topo.name, "ok": not bad, "results": [
            {"from": o.probe.source, "to": o.probe.target, "address": o.probe.address, "test": o.probe.test,
             "expected": o.probe.expected, "got": o.got, "ok": o.ok, "line": o.probe.line} for o in outcomes]}))
        return 1 if bad else 0
    if not topo.expects:
        print(f"lab {topo.name} declares no expect: entries")
        return 0
    print(table(table_rows(outcomes), HEADERS))
    print(f"{len(outcomes) - bad}/{len(outcomes)} as expected")
    return 1 if bad else 0


def cmd_exec(args: argparse.Namespace) -> int:
    from wirework.api.env import run_captured, run_interactive
    from wirework.lab.resolve import node_ns

    words = list(args.words)
    if "--" not in words or words.index("--") not in (1, 2) or words.index("--") == len(words) - 1:
        raise InvalidInput(what="lab exec arguments", value=" ".join(words), why="use: lab exec [LAB] NODE -- COMMAND ...")
    cut = words.index("--")
    mgr = _manager(args)
    topo = mgr.topology(words[0] if cut == 2 else _only_lab(mgr))
    mgr.require_up(topo)
    ns, env, argv = node_ns(mgr.names(topo.name), topo, words[cut - 1]), mgr.node_env(topo, words[cut - 1]), words[cut + 1:]
    if args.dry_run:
        line = " ".join([*(f"{k}={shlex.quote(v)}" for k, v in env.items()), "nsenter", f"--net={ns}", "--",
                         *(shlex.quote(a) for a in argv)])
        print(dumps({"dry_run": True, "command": line}) if args.json else line)
        return 0
    if args.json:
        code, out, err = run_captured(ns, argv, env)
        print(dumps({"lab": topo.name, "node": words[cut - 1], "exit_code": code, "stdout": out, "stderr": err}))
        return code
    return run_interactive(ns, argv, env)


def _only_lab(mgr: Any) -> str:
    labs = mgr.status()
    if len(labs) != 1:
        raise InvalidInput(what="lab", value="", why=f"{len(labs)} labs are up; name one: lab exec LAB NODE -- CMD")
    return str(labs[0].name)


def cmd_graph(args: argparse.Namespace) -> int:
    from wirework.lab.graph import output_format, render

    fmt = output_format(args.output, args.format)  # before anything is read or written
    data = render(_manager(args).topology(args.lab), fmt)
    if args.output:
        with open(args.output, "wb") as f:
            f.write(data)
    if args.json:
        body = {"output": args.output} if args.output else (
            {"graph": data.decode()} if fmt in ("text", "dot", "svg") else {"graph_base64": base64.b64encode(data).decode()})
        print(dumps({"format": fmt, **body}))
    elif args.output:
        print(f"wrote {args.output} ({fmt})")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0

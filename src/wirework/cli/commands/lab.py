"""lab up/down/status/check/exec/graph: several hosts built from namespaces on this machine."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from wirework.cli.render import PLAN_FORMATS, render_plan, table
from wirework.errors import InvalidInput


def register(sub: Any) -> None:
    lab = sub.add_parser("lab", help="build several hosts out of network namespaces from a YAML file")
    lab.add_argument("--state-dir", help="state store directory (default /var/lib/wirework, env WIREWORK_STATE_DIR)")
    cmds = lab.add_subparsers(dest="lab_command", metavar="ACTION")
    p = cmds.add_parser("up", help="create or converge the lab described by FILE")
    p.add_argument("file")
    p.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    p.add_argument("--format", choices=PLAN_FORMATS, default="text")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_up)
    p = cmds.add_parser("down", help="remove everything the lab made (FILE or lab NAME)")
    p.add_argument("lab")
    p.set_defaults(func=cmd_down)
    p = cmds.add_parser("status", help="labs that are up, their namespaces and programs")
    p.set_defaults(func=cmd_status)
    p = cmds.add_parser("check", help="run the file's expected-reachability matrix")
    p.add_argument("lab", help="lab FILE or NAME")
    p.set_defaults(func=cmd_check)
    p = cmds.add_parser("exec", help="run a command inside a lab host or guest: lab exec [LAB] NODE -- CMD")
    p.add_argument("words", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_exec)
    p = cmds.add_parser("graph", help="draw the topology (text, dot, svg, png, pdf)")
    p.add_argument("lab", help="lab FILE or NAME")
    p.add_argument("--format", choices=("text", "dot", "svg", "png", "pdf"),
                   help="default: what the -o file's extension says (.txt .dot .gv .svg .png .pdf), else text")
    p.add_argument("-o", "--output", help="write to this file instead of standard output")
    p.set_defaults(func=cmd_graph)
    lab.set_defaults(func=lambda args: _help(lab))


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _manager(args: argparse.Namespace) -> Any:
    from wirework.api.lab import lab_manager

    return lab_manager(getattr(args, "state_dir", None))


def cmd_up(args: argparse.Namespace) -> int:
    mgr = _manager(args)
    topo = mgr.load(args.file)

    def progress(index: int, total: int, step: Any) -> None:
        if not args.quiet:
            print(f"[{index + 1:3}/{total}] {step.describe()}", file=sys.stderr, flush=True)

    result = mgr.up(topo, dry_run=args.dry_run, progress=progress)
    if args.dry_run:
        print(render_plan(result.plan, args.format))
        return 0
    print(f"lab {topo.name} is up: {len(topo.hosts)} hosts, {len(topo.guests)} guests, "
          f"{len(topo.segments)} segments ({result.changed} changes, {result.seconds:.2f} s)")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    errors = _manager(args).down(args.lab)
    for e in errors:
        print(f"wirework: left behind: {e}", file=sys.stderr)
    print("lab removed" if not errors else "lab partly removed; run 'wirework lab down' again")
    return 0 if not errors else 6


def cmd_status(args: argparse.Namespace) -> int:
    labs = _manager(args).status()
    if not labs:
        print("no lab is up")
        return 0
    for st in labs:
        print(f"lab {st.name} ({st.path}): {len(st.namespaces)} namespaces")
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
    if not topo.expects:
        print(f"lab {topo.name} declares no expect: entries")
        return 0
    outcomes = run_matrix(topo, mgr.names(topo.name))
    print(table(table_rows(outcomes), HEADERS))
    bad = sum(1 for o in outcomes if not o.ok)
    print(f"{len(outcomes) - bad}/{len(outcomes)} as expected")
    return 1 if bad else 0


def cmd_exec(args: argparse.Namespace) -> int:
    from wirework.api.env import run_interactive
    from wirework.lab.resolve import node_ns

    words = list(args.words)
    if "--" not in words or words.index("--") not in (1, 2) or words.index("--") == len(words) - 1:
        raise InvalidInput(what="lab exec arguments", value=" ".join(words), why="use: lab exec [LAB] NODE -- COMMAND ...")
    cut = words.index("--")
    mgr = _manager(args)
    lab_ref = words[0] if cut == 2 else _only_lab(mgr)
    topo = mgr.topology(lab_ref)
    return run_interactive(node_ns(mgr.names(topo.name), topo, words[cut - 1]), words[cut + 1:])


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
        print(f"wrote {args.output}")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0

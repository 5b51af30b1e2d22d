"""The argument parser and dispatch, shared by the local CLI and the resident service.

Each subcommand lives in `wirework.cli.commands.<module>` and exposes `register(sub)`, which
adds its parsers with `set_defaults(func=...)`; a func takes the parsed args and returns an
exit status. Errors of type WireworkError become one line on stderr and their exit code; so
do argument errors, with the usage of the (sub)command they belong to, and exit status 2.
With `--json`, an error is also printed as a JSON object on stdout.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from wirework import __version__
from wirework.errors import WireworkError

COMMAND_MODULES = (
    "wirework.cli.commands.attach",
    "wirework.cli.commands.pipework",
    "wirework.cli.commands.service",
)
_OPTIONAL_MODULES = (
    "wirework.cli.commands.networks",
    "wirework.cli.commands.doctor",
    "wirework.cli.commands.lab",
    "wirework.cli.commands.uplink",
    "wirework.cli.commands.tunnel",
    "wirework.cli.commands.bridges",
    "wirework.cli.commands.cni",
)


#: Options a command may not have; after parsing they default to these values.
COMMON_DEFAULTS: dict[str, Any] = {"state_dir": None, "netns": None, "json": False, "dry_run": False}


class UsageError(Exception):
    """An argument error, raised by the (sub)parser that found it instead of exiting."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser


class Parser(argparse.ArgumentParser):
    """argparse, but errors are raised (one line, this parser's usage) instead of printed."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(self, message)


def add_common(parser: argparse.ArgumentParser) -> None:
    """--state-dir and --netns; a group's parser and its actions both take them, so they may
    stand before or after the action (`lab --state-dir X status`, `lab status --state-dir X`)."""
    parser.add_argument("--state-dir", default=argparse.SUPPRESS,
                        help="state store directory (default /var/lib/wirework, env WIREWORK_STATE_DIR)")
    parser.add_argument("--netns", default=argparse.SUPPRESS,
                        help="operate on this network namespace as the host (a lab host)")
    # SUPPRESS: a subcommand that is not given --store keeps the one given before it (wirework --store URL CMD).
    add_store_options(parser, default=argparse.SUPPRESS)


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print the result as JSON")


def add_dry_run(parser: argparse.ArgumentParser, *, plan: bool = True) -> None:
    """--dry-run (and --format for commands that have a plan to show)."""
    parser.add_argument("--dry-run", action="store_true", default=argparse.SUPPRESS,
                        help="print the plan and change nothing")
    if plan:
        parser.add_argument("--format", choices=("text", "commands", "json"), default="text",
                            help="plan format for --dry-run: text, commands (for a shell, run as root) or json")


def usage_line(parser: argparse.ArgumentParser) -> str:
    """The usage of one (sub)command in one line: its words, [OPTIONS], its positionals."""
    if parser.usage:
        first = parser.usage.splitlines()[0].strip()
        return first.removeprefix("usage:").strip() % {"prog": parser.prog}
    words = [parser.prog]
    if any(a.option_strings and a.help != argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)
           for a in parser._actions):
        words.append("[OPTIONS]")
    for action in parser._actions:
        if action.option_strings or action.help == argparse.SUPPRESS:
            continue
        name = str(action.metavar or action.dest.upper())
        if isinstance(action, argparse._SubParsersAction):
            words.append(f"{name} ...")
        elif action.nargs == argparse.REMAINDER:
            words.append(f"[-- {name} ...]" if name.lower() != "words" else "...")
        elif action.nargs in ("?", "*"):
            words.append(f"[{name}]")
        else:
            words.append(str(name))
    return " ".join(words)


def subcommand_of(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser:
    """The deepest (sub)parser the words of argv name (for errors its parser did not see)."""
    current = parser
    for word in argv:
        subs = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        if subs and word in subs[0].choices:
            current = subs[0].choices[word]
    return current


def add_store_options(parser: argparse.ArgumentParser, default: Any = None) -> None:
    """The shared store (wirework.store.config): a URL and how to reach and log into it."""
    group = parser.add_argument_group("shared store (several hosts)")
    group.argument_default = default
    group.add_argument("--store", metavar="URL", help="etcd://HOST:PORT[,HOST:PORT...], etcds://... (TLS), "
                       "sqlite:[PATH] or memory: (default sqlite:, env WIREWORK_STORE)")
    group.add_argument("--store-prefix", metavar="PREFIX", help="key prefix in etcd, so clusters can share one "
                       "(default /wirework/, env WIREWORK_STORE_PREFIX)")
    group.add_argument("--store-ca", metavar="FILE", help="CA certificate for etcds:// (env WIREWORK_STORE_CA)")
    group.add_argument("--store-cert", metavar="FILE", help="client certificate for etcds:// (env WIREWORK_STORE_CERT)")
    group.add_argument("--store-key", metavar="FILE", help="client key for etcds:// (env WIREWORK_STORE_KEY)")
    group.add_argument("--store-user", metavar="NAME", help="etcd user (env WIREWORK_STORE_USER); the password comes "
                       "from WIREWORK_STORE_PASSWORD or --store-password-file")
    group.add_argument("--store-password-file", metavar="FILE", help="file holding the etcd user's password")


def store_config_of(args: argparse.Namespace) -> Any:
    """The StoreConfig for a command's --store* options (the environment fills the rest)."""
    from wirework.api.env import store_config

    return store_config(getattr(args, "store", None), prefix=getattr(args, "store_prefix", None),
                        ca=getattr(args, "store_ca", None), cert=getattr(args, "store_cert", None),
                        key=getattr(args, "store_key", None), user=getattr(args, "store_user", None),
                        password_file=getattr(args, "store_password_file", None))


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="wirework", description="Wire containers into networks on Linux.")
    parser.add_argument("--version", action="version", version=f"wirework {__version__}")
    # Also before the command (`wirework --json --netns h1 ls`), as after it.
    parser.add_argument("--state-dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    parser.add_argument("--netns", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    add_json(parser)
    add_store_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMAND_MODULES + _OPTIONAL_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # that command group is not part of this build yet
            raise
        module.register(sub)
    return parser


def run(argv: list[str], *, stdout: Any = None, stderr: Any = None) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    if argv == ["cni", "plugin"]:  # a CNI runtime's request: no argparse on that hot path
        from wirework.cli.commands.cni import cmd_plugin

        return cmd_plugin(argparse.Namespace())
    parser = build_parser()
    if argv[:1] == ["pipework"] and argv[1:2] not in (["-h"], ["--help"]):
        # pipework's own words (--wait, -i, -l ...) must reach its parser untouched.
        argv = ["pipework", "--", *argv[1:]]
    json_wanted = "--json" in argv and "--" not in argv[:argv.index("--json")]
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        where = subcommand_of(parser, argv) if exc.parser is parser else exc.parser
        return _fail(f"{exc}; usage: {usage_line(where)}", 2, json_wanted, out, err)
    except SystemExit as exc:  # --help and --version print and exit 0
        return int(exc.code or 0)
    for option, default in COMMON_DEFAULTS.items():
        if not hasattr(args, option):
            setattr(args, option, default)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(out)
        return 2
    try:
        return int(func(args) or 0)
    except WireworkError as exc:
        return _fail(str(exc), exc.exit_code, bool(args.json), out, err)
    except KeyboardInterrupt:
        print("wirework: interrupted", file=err)
        return 130
    except Exception as exc:
        if os.environ.get("WIREWORK_DEBUG"):
            raise
        return _fail(f"{type(exc).__name__}: {exc} (run with WIREWORK_DEBUG=1 for details)", 1, bool(args.json),
                     out, err)


def _fail(message: str, code: int, as_json: bool, out: Any, err: Any) -> int:
    """One error line on stderr (and, with --json, the same as a JSON object on stdout)."""
    print(f"wirework: {message}", file=err)
    if as_json:
        import json

        print(json.dumps({"error": message, "exit_code": code}), file=out)
    return code


def session(args: argparse.Namespace) -> Any:
    """The API session for a command's --netns/--state-dir/--store* (reused inside the service)."""
    from wirework.cli.sessions import get_session

    return get_session(getattr(args, "netns", None), getattr(args, "state_dir", None), store_config_of(args))

"""The argument parser and dispatch, shared by the local CLI and the resident service.

Each subcommand lives in `wirework.cli.commands.<module>` and exposes `register(sub)`, which
adds its parsers with `set_defaults(func=...)`; a func takes the parsed args and returns an
exit status. Errors of type WireworkError become one line on stderr and their exit code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

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


def add_common(parser: argparse.ArgumentParser) -> None:
    """Options every state-touching command takes."""
    parser.add_argument("--state-dir", help="state store directory (default /var/lib/wirework, env WIREWORK_STATE_DIR)")
    parser.add_argument("--netns", help="operate on this network namespace as the host (a lab host)")
    # SUPPRESS: a subcommand that is not given --store keeps the one given before it (wirework --store URL CMD).
    add_store_options(parser, default=argparse.SUPPRESS)


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
    parser = argparse.ArgumentParser(prog="wirework", description="Wire containers into networks on Linux.")
    parser.add_argument("--version", action="version", version=f"wirework {__version__}")
    add_store_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
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
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse prints usage and exits 2
        return int(exc.code or 0)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(out)
        return 2
    try:
        return int(func(args) or 0)
    except WireworkError as exc:
        print(f"wirework: {exc}", file=err)
        return exc.exit_code
    except KeyboardInterrupt:
        print("wirework: interrupted", file=err)
        return 130
    except Exception as exc:
        if os.environ.get("WIREWORK_DEBUG"):
            raise
        print(f"wirework: {type(exc).__name__}: {exc} (run with WIREWORK_DEBUG=1 for details)", file=err)
        return 1


def session(args: argparse.Namespace) -> Any:
    """The API session for a command's --netns/--state-dir/--store* (reused inside the service)."""
    from wirework.cli.sessions import get_session

    return get_session(getattr(args, "netns", None), getattr(args, "state_dir", None), store_config_of(args))

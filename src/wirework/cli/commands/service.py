"""`wirework service start|stop|status|run`: the resident service that keeps the CLI fast.

The CLI starts a service by itself when none answers (see `wirework.cli.main`); these commands
manage one explicitly (`run` stays in the foreground: systemd's `wireworkd.service` uses it).
"""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("service", help="the resident service (fast CLI, Docker events, clean-up)")
    p.add_argument("action", choices=("start", "stop", "status", "run"))
    p.add_argument("--socket", help="socket path (default /run/wirework/wireworkd.sock, env WIREWORK_SOCKET)")
    p.add_argument("--no-docker-events", action="store_true", help="do not watch Docker's events")
    p.add_argument("--idle-exit", type=float, default=0,
                   help="exit after this many seconds without requests (default 0: never)")
    p.add_argument("--group", help="group allowed to use the socket besides root (env WIREWORK_SOCKET_GROUP)")
    p.set_defaults(func=cmd_service)


def cmd_service(args: argparse.Namespace) -> int:
    from wirework.service import daemon

    path = args.socket or daemon.socket_path()
    watch = not args.no_docker_events
    if args.action == "run":
        return daemon.serve(path, watch_docker=watch, idle_exit=args.idle_exit, group=args.group)
    if args.action == "start":
        pid = daemon.start(path, watch_docker=watch, idle_exit=int(args.idle_exit), group=args.group)
        print(f"wirework service running (pid {pid}, socket {path})")
        return 0
    if args.action == "stop":
        stopped = daemon.stop(path)
        print("wirework service stopped" if stopped else "wirework service was not running")
        return 0
    running = daemon.running_pid(path)
    print(f"running (pid {running}, socket {path})" if running else "not running")
    return 0 if running else 3

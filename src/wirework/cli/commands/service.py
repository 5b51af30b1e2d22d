"""`wirework service start|stop|status|run`: the resident service that keeps the CLI fast."""

from __future__ import annotations

import argparse
from typing import Any

from wirework.cli.app import add_dry_run, add_json
from wirework.cli.render import dumps


def register(sub: Any) -> None:
    p = sub.add_parser("service", help="the resident service (fast CLI, Docker events, clean-up)")
    p.add_argument("action", choices=("start", "stop", "status", "run"))
    p.add_argument("--socket", help="socket path (default /run/wirework/wireworkd.sock, env WIREWORK_SOCKET)")
    p.add_argument("--no-docker-events", action="store_true", help="do not watch Docker's events")
    add_dry_run(p, plan=False)
    add_json(p)
    p.set_defaults(func=cmd_service)


def cmd_service(args: argparse.Namespace) -> int:
    from wirework.service import daemon

    path = args.socket or daemon.socket_path()
    if args.action != "status" and (args.dry_run or args.json):
        return _planned_or_json(args, path)
    if args.action == "run":
        return daemon.serve(path, watch_docker=not args.no_docker_events)
    if args.action == "start":
        pid = daemon.start(path, watch_docker=not args.no_docker_events)
        print(f"wirework service running (pid {pid}, socket {path})")
        return 0
    if args.action == "stop":
        stopped = daemon.stop(path)
        print("wirework service stopped" if stopped else "wirework service was not running")
        return 0
    running = daemon.running_pid(path)
    if args.json:
        print(dumps({"socket": path, "running": bool(running), "pid": running or None}))
    else:
        print(f"running (pid {running}, socket {path})" if running else "not running")
    return 0 if running else 3


def _planned_or_json(args: argparse.Namespace, path: str) -> int:
    """start/stop/run with --dry-run (say what would happen) or --json (the outcome as JSON)."""
    from wirework.service import daemon

    running = daemon.running_pid(path)
    if args.dry_run:
        would = {"start": "nothing: it runs already" if running else f"start the service on {path}",
                 "stop": f"stop the service (pid {running})" if running else "nothing: it is not running",
                 "run": f"serve on {path} in the foreground"}[args.action]
        print(dumps({"dry_run": True, "action": args.action, "would": would}) if args.json else f"would {would}")
        return 0
    if args.action == "start":
        pid = daemon.start(path, watch_docker=not args.no_docker_events)
        print(dumps({"socket": path, "running": True, "pid": pid}))
    elif args.action == "stop":
        print(dumps({"socket": path, "stopped": daemon.stop(path)}))
    else:
        return daemon.serve(path, watch_docker=not args.no_docker_events)
    return 0

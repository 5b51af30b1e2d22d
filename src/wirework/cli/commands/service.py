"""`wirework service start|stop|status|run`: the resident service that keeps the CLI fast.

The CLI starts a service by itself when none answers (see `wirework.cli.main`); these commands
manage one explicitly (`run` stays in the foreground: systemd's `wireworkd.service` uses it).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from wirework.cli.app import add_dry_run, add_json, add_store_options
from wirework.cli.render import dumps
from wirework.service.agent_side import read_status


def register(sub: Any) -> None:
    p = sub.add_parser("service", help="the resident service (fast CLI, Docker events, clean-up)")
    p.add_argument("action", choices=("start", "stop", "status", "run"))
    p.add_argument("--socket", help="socket path (default /run/wirework/wireworkd.sock, env WIREWORK_SOCKET)")
    p.add_argument("--no-docker-events", action="store_true", help="do not watch Docker's events")
    p.add_argument("--idle-exit", type=float, default=0,
                   help="exit after this many seconds without requests (default 0: never)")
    p.add_argument("--group", help="group allowed to use the socket besides root (env WIREWORK_SOCKET_GROUP)")
    agent = p.add_argument_group("cluster agent (with --store etcd://...: the service runs this host's agent)")
    agent.add_argument("--public-ip", help="this host's address the others reach it at (default: from the default "
                                           "route; env WIREWORK_AGENT_PUBLIC_IP)")
    agent.add_argument("--lease-ttl", help="how long the host's claims outlive a dead service (default 10s; env "
                                           "WIREWORK_AGENT_LEASE_TTL)")
    agent.add_argument("--host-id", help="this host's id in the cluster (default hostname-machine-id; env "
                                         "WIREWORK_AGENT_HOST_ID)")
    add_store_options(p, default=argparse.SUPPRESS)
    add_dry_run(p, plan=False)
    add_json(p)
    p.set_defaults(func=cmd_service)


def cmd_service(args: argparse.Namespace) -> int:
    from wirework.service import daemon

    path = args.socket or daemon.socket_path()
    watch = not args.no_docker_events
    if args.action != "status" and (args.dry_run or args.json):
        return _planned_or_json(args, path)
    if args.action == "run":
        os.environ.update(agent_environment(args))
        return daemon.serve(path, watch_docker=watch, idle_exit=args.idle_exit, group=args.group)
    if args.action == "start":
        env = agent_environment(args)
        already = daemon.running_pid(path)
        pid = daemon.start(path, watch_docker=watch, idle_exit=int(args.idle_exit), group=args.group, env=env)
        print(f"wirework service running (pid {pid}, socket {path})")
        if already and env:
            print("it was running already: it keeps the store and agent options it started with "
                  "('wirework service stop', then start it again, to change them)")
        return 0
    if args.action == "stop":
        stopped = daemon.stop(path)
        print("wirework service stopped" if stopped else "wirework service was not running")
        return 0
    running = daemon.running_pid(path)
    agent = read_status(path) if running else None
    if args.json:
        print(dumps({"socket": path, "running": bool(running), "pid": running or None, "agent": agent}))
    else:
        print(f"running (pid {running}, socket {path})" if running else "not running")
        if agent is not None:
            print(agent_line(agent))
    return 0 if running else 3


def agent_environment(args: argparse.Namespace) -> dict[str, str]:
    """The variables that give the service its shared store and agent options (checked here,
    so that a bad --store is refused by this command, not in the service's log)."""
    from wirework.cli.app import store_config_of
    from wirework.cli.commands.cluster import parse_duration
    from wirework.errors import InvalidInput
    from wirework.service.docker_side import AGENT_ENV, store_environment

    env: dict[str, str] = {}
    if getattr(args, "store", None):
        config = store_config_of(args)
        if config.scheme not in ("etcd", "etcds"):
            raise InvalidInput(what="--store", value=config.url, why="the service's store is the one the hosts share: "
                               "give etcd://HOST:PORT[,HOST:PORT...] or etcds://...")
        env.update(store_environment(config))
    for field, value in (("public_ip", args.public_ip), ("host_id", args.host_id)):
        if value:
            env[AGENT_ENV[field]] = value
    if args.lease_ttl:
        env[AGENT_ENV["lease_ttl"]] = str(parse_duration(args.lease_ttl))
    if env and not getattr(args, "store", None) and not os.environ.get("WIREWORK_STORE"):
        given = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in (("public_ip", args.public_ip),
                         ("lease_ttl", args.lease_ttl), ("host_id", args.host_id)) if v)
        raise InvalidInput(what="agent option", value=given, why="it tunes the cluster agent, which the service runs "
                           "only with a shared store: add --store etcd://HOST:PORT")
    return env


def agent_line(agent: dict[str, Any]) -> str:
    nets = ", ".join(f"{name} {info.get('subnet')}" for name, info in sorted((agent.get("networks") or {}).items()))
    line = f"cluster agent {agent.get('host') or '(not joined yet)'} on {agent.get('store')}: {agent.get('state')}"
    if agent.get("error"):
        line += f" ({agent['error']})"
    return line + (f"; networks: {nets}" if nets else "; no cluster network yet")


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
        pid = daemon.start(path, watch_docker=not args.no_docker_events, idle_exit=int(args.idle_exit), group=args.group,
                           env=agent_environment(args))
        print(dumps({"socket": path, "running": True, "pid": pid}))
    elif args.action == "stop":
        print(dumps({"socket": path, "stopped": daemon.stop(path)}))
    else:
        os.environ.update(agent_environment(args))
        return daemon.serve(path, watch_docker=not args.no_docker_events, idle_exit=args.idle_exit, group=args.group)
    return 0

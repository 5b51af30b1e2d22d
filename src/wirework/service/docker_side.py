"""The service's Docker side: the event follower and the Docker plugin, started and stopped together.

Configuration is read once, when the service starts (requests may carry other environments):
`DOCKER_HOST` (which dockerd), `WIREWORK_STATE_DIR`, `WIREWORK_OVS_DB`, and
`WIREWORK_DOCKER_PLUGIN` — the plugin's name (its socket is `/run/docker/plugins/NAME.sock`, and
Docker users say `-d NAME --ipam-driver NAME`), or `off`. Unset, the service on the default
socket serves the plugin as `wirework`; a service on another socket (a test's, say) serves none,
so that two services never fight over one plugin name. `WIREWORK_DOCKER_RESYNC_EVERY` and
`WIREWORK_DOCKER_RESYNC_GRACE` (seconds) tune how often the plugin reconciles with Docker and
how old a record must be before a resync may remove it. For crash tests only,
`WIREWORK_DOCKER_CRASH_AT=STEP_KIND:MARKER_FILE` kills the whole service (as SIGKILL would) when
a plugin request reaches that step, once: the marker file says it happened.

The shared store (`WIREWORK_STORE*`, which `wirework service start --store URL` sets) is read at
start too: the plugin's sessions use it (cluster networks through Docker), and the service runs
this host's cluster agent on it (`service.agent_side`), tuned by `WIREWORK_AGENT_PUBLIC_IP`,
`WIREWORK_AGENT_LEASE_TTL` (seconds) and `WIREWORK_AGENT_HOST_ID`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PLUGIN_ENV = "WIREWORK_DOCKER_PLUGIN"
DEFAULT_PLUGIN = "wirework"


@dataclass(frozen=True)
class Settings:
    docker_host: str | None
    state_dir: str | None
    ovs_db: str | None
    plugin: str  # "" for none
    resync_every: float = 60.0
    resync_grace: float = 30.0
    address_pools: str | None = None
    store: Any = None  # the shared store's StoreConfig (etcd), or None: this host alone
    agent_public_ip: str | None = None
    agent_lease_ttl: float = 10.0
    agent_host_id: str | None = None

    @classmethod
    def from_environment(cls, *, default_socket: bool) -> Settings:
        wanted = os.environ.get(PLUGIN_ENV)
        if wanted is None:
            plugin = DEFAULT_PLUGIN if default_socket else ""
        else:
            plugin = "" if wanted.strip().lower() in ("", "off", "no", "0") else wanted.strip()
        return cls(os.environ.get("DOCKER_HOST") or None, os.environ.get("WIREWORK_STATE_DIR") or None,
                   os.environ.get("WIREWORK_OVS_DB") or None, plugin,
                   max(1.0, _seconds("WIREWORK_DOCKER_RESYNC_EVERY", 60.0)), _seconds("WIREWORK_DOCKER_RESYNC_GRACE", 30.0),
                   os.environ.get("WIREWORK_ADDRESS_POOLS") or None, _shared_store(),
                   os.environ.get(AGENT_ENV["public_ip"]) or None, max(1.0, _seconds(AGENT_ENV["lease_ttl"], 10.0)),
                   os.environ.get(AGENT_ENV["host_id"]) or None)

    def agent_settings(self) -> Any:
        """How to run the agent (None: no shared store, no agent)."""
        if self.store is None:
            return None
        from wirework.service.agent_side import AgentSettings

        return AgentSettings(self.store.url, self.agent_public_ip, self.agent_lease_ttl, self.agent_host_id)


#: The agent's options as the service reads them (`service start --public-ip/--lease-ttl/--host-id`).
AGENT_ENV = {"public_ip": "WIREWORK_AGENT_PUBLIC_IP", "lease_ttl": "WIREWORK_AGENT_LEASE_TTL",
             "host_id": "WIREWORK_AGENT_HOST_ID"}


def store_environment(config: Any) -> dict[str, str]:
    """The WIREWORK_STORE* variables that give a service started with them this StoreConfig."""
    from wirework.store.config import ENV

    return {variable: str(getattr(config, field)) for field, variable in ENV.items()
            if getattr(config, field) is not None}


def _shared_store() -> Any:
    """The StoreConfig of WIREWORK_STORE* when it names a shared store (etcd), else None."""
    if not os.environ.get("WIREWORK_STORE"):
        return None
    from wirework.api.env import store_config
    from wirework.errors import WireworkError

    try:
        config = store_config(env=os.environ)
    except WireworkError as exc:  # said in the service's log; the service serves on without it
        sys.stderr.write(f"wireworkd: WIREWORK_STORE ignored, no cluster agent: {exc}\n")
        return None
    return config if config.scheme in ("etcd", "etcds") else None


def _seconds(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name) or default))
    except ValueError:
        return default


class DockerSide:
    def __init__(self, settings: Settings, *, watch_docker: bool, log: Callable[[str], None]) -> None:
        from wirework.service.docker_watch import DockerWatcher

        self.settings = settings
        self.log = log
        self.watcher = DockerWatcher(settings.docker_host, self.session, log) if watch_docker else None
        self.plugin: Any = None
        if settings.plugin:
            from wirework.dockerplugin import PluginServer

            self.plugin = PluginServer(settings.plugin, self.session, log=log, resync_every=settings.resync_every,
                                       grace=settings.resync_grace, trace=bool(os.environ.get("WIREWORK_DOCKER_TRACE")))

    @classmethod
    def from_environment(cls, *, watch_docker: bool, log: Callable[[str], None], default_socket: bool) -> DockerSide:
        return cls(Settings.from_environment(default_socket=default_socket), watch_docker=watch_docker, log=log)

    def session(self, netns: str | None = None) -> Any:
        """A new session with the service's settings, for the thread that will use it alone."""
        from wirework.api import Wirework
        from wirework.service.docker_watch import socket_of

        ww = Wirework(netns, state_dir=self.settings.state_dir, docker_socket=socket_of(self.settings.docker_host),
                      ovs_db=self.settings.ovs_db, store=self.settings.store)
        ww.context.fault = _crash_hook()  # a request's fault injection is not the plugin's
        ww.address_pools = self.settings.address_pools
        return ww

    def start(self) -> None:
        if self.plugin is not None:
            self.plugin.start()
            if self.watcher is not None:
                self.watcher.listeners.append(self.plugin.docker_event)
            self.log(f"Docker plugin {self.settings.plugin} at {self.plugin.socket_path}")
        if self.watcher is not None:
            self.watcher.start()

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        if self.plugin is not None:
            self.plugin.stop()


def _crash_hook() -> Any:
    """WIREWORK_DOCKER_CRASH_AT=KIND:MARKER: die at the first step of that kind (tests), once."""
    spec = os.environ.get("WIREWORK_DOCKER_CRASH_AT") or ""
    kind, _, marker = spec.partition(":")
    if not kind or not marker:
        return None

    def hook(index: int, step: Any) -> None:
        if step.kind == kind and not os.path.exists(marker):
            with open(marker, "w", encoding="ascii") as f:
                f.write(f"{os.getpid()}\n")
            os._exit(137)

    return hook

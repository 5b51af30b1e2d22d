"""Open vSwitch adapter: OVSDB through ovs-vsctl, one transaction per change.

Every bridge and port wirework adds carries `external_ids:wirework-owner=<owner>`; deletes
check it first, so a port someone else made is never removed. `db` points at a private
ovsdb-server socket (a lab host's own instance); None is the system's.
"""

from __future__ import annotations

import json
import os
import time

from wirework.errors import Unsupported
from wirework.kernel.proc import Processes, ProgramFailed
from wirework.model.tunnel import TUNNEL_TYPES
from wirework.naming import OVS_OWNER_KEY

SYSTEM_DB = "/var/run/openvswitch/db.sock"


class Ovs:
    def __init__(self, proc: Processes, db: str | None = None) -> None:
        self.proc = proc
        self.db = db
        self._available: bool | None = None
        self._checked = 0.0

    def vsctl(self, *args: str, timeout: float = 10.0) -> str:
        argv = ["ovs-vsctl", f"--timeout={int(timeout)}"]
        if self.db:
            argv.append(f"--db=unix:{self.db}")
        # ovs-vsctl talks to ovsdb over a unix socket; no need to enter the host's netns.
        return self.proc.run([*argv, *args], timeout=timeout + 2)

    def available(self) -> bool:
        # "yes" is kept; "no" is asked again after a few seconds (ovs-vswitchd may start later,
        # and the resident service lives long).
        if self._available is False and time.monotonic() - self._checked > 5.0:
            self._available = None
        if self._available is None:
            self._checked = time.monotonic()
            sock = self.db or SYSTEM_DB
            self._available = bool(self.proc.which("ovs-vsctl")) and os.path.exists(sock)
            if self._available:
                try:
                    self.vsctl("--no-wait", "show", timeout=3)
                except ProgramFailed:
                    self._available = False
        return self._available

    def kernel_datapath_available(self) -> bool:
        return os.path.isdir("/sys/module/openvswitch")

    def default_datapath(self) -> str:
        """`system` (kernel datapath) where the openvswitch module is loaded, else `netdev`."""
        return "system" if self.kernel_datapath_available() else "netdev"

    def bridge_exists(self, name: str) -> bool:
        if not self.available():
            return False
        try:
            self.vsctl("br-exists", name)
        except ProgramFailed:
            return False
        return True

    def bridge_datapath(self, name: str) -> str:
        return self.vsctl("get", "bridge", name, "datapath_type").strip().strip('"') or "system"

    def add_bridge(self, name: str, *, datapath: str, owner: str) -> None:
        self.vsctl(
            "--may-exist", "add-br", name, "--", "set", "bridge", name,
            f"datapath_type={datapath}", f"external_ids:{OVS_OWNER_KEY}={owner}",
        )

    def del_bridge(self, name: str, *, owner: str | None = None) -> bool:
        if not self.bridge_exists(name):
            return False
        if owner is not None and self._owner("bridge", name) != owner:
            return False
        self.vsctl("--if-exists", "del-br", name)
        return True

    def add_port(self, bridge: str, port: str, *, tag: int | None, owner: str, extra: dict[str, str] | None = None) -> None:
        args = ["--may-exist", "add-port", bridge, port]
        if tag is not None:
            args.append(f"tag={tag}")
        args += ["--", "set", "port", port, f"external_ids:{OVS_OWNER_KEY}={owner}"]
        if extra:
            args += ["--", "set", "interface", port, *[f"{k}={v}" for k, v in extra.items()]]
        self.vsctl(*args)

    def del_port(self, bridge: str, port: str, *, owner: str | None = None) -> bool:
        if not self.available():
            # Not "absent": a port in a database that is not being served now would outlive
            # the record naming it (a teardown then fails and keeps the record for a retry).
            raise Unsupported(feature="Open vSwitch", why=f"ovsdb-server does not answer on {self.db or SYSTEM_DB}, "
                                                          f"so port {port} cannot be removed; start it and try again")
        current = self._owner("port", port)
        if current is None and owner is not None:
            return False
        if owner is not None and current != owner:
            return False
        self.vsctl("--if-exists", "del-port", bridge, port)
        return True

    def add_tunnel_port(
        self, bridge: str, port: str, type_: str, remote_ip: str, *, owner: str,
        key: int | None = None, local_ip: str | None = None,
    ) -> None:
        """A GRE/VXLAN/Geneve port: `set interface P type=T options:remote_ip=...`."""
        if type_ not in TUNNEL_TYPES:
            raise ValueError(f"tunnel type {type_!r} is not one of {', '.join(TUNNEL_TYPES)}")
        options = {"type": type_, "options:remote_ip": remote_ip}
        if key is not None:
            options["options:key"] = str(key)
        if local_ip:
            options["options:local_ip"] = local_ip
        self.add_port(bridge, port, tag=None, owner=owner, extra=options)

    def add_internal_port(self, bridge: str, port: str, *, owner: str, tag: int | None = None) -> None:
        """An internal port: a kernel interface (tap on the netdev datapath) on the bridge."""
        self.add_port(bridge, port, tag=tag, owner=owner, extra={"type": "internal"})

    def interface_type(self, port: str) -> str:
        """"" (a system port), "internal", "gre", "vxlan", ...; "" when absent."""
        return self._get("interface", port, "type") or ""

    def interface_options(self, port: str) -> dict[str, str]:
        raw = self._get("interface", port, "options")
        return _ovs_map(raw) if raw else {}

    def interface_error(self, port: str) -> str | None:
        """What OVS says went wrong with the port (`could not open network device ...`), if anything."""
        raw = self._get("interface", port, "error")
        return raw if raw and raw != "[]" else None

    def port_bridge(self, port: str) -> str | None:
        try:
            return self.vsctl("port-to-br", port).strip() or None
        except ProgramFailed:
            return None

    def set_bridge_hwaddr(self, bridge: str, mac: str | None) -> None:
        if mac:
            self.vsctl("set", "bridge", bridge, f"other_config:hwaddr=\"{mac}\"")
        else:
            self.vsctl("remove", "bridge", bridge, "other_config", "hwaddr")

    def ports(self, bridge: str) -> list[str]:
        return self.vsctl("list-ports", bridge).split()

    def bridges(self) -> list[str]:
        return self.vsctl("list-br").split() if self.available() else []

    def stp_enabled(self, bridge: str) -> bool:
        return self.vsctl("get", "bridge", bridge, "stp_enable").strip() == "true"

    def port_owner(self, port: str) -> str | None:
        return self._owner("port", port)

    def bridge_owner(self, name: str) -> str | None:
        return self._owner("bridge", name)

    def owned_ports(self) -> list[tuple[str, str, str]]:
        """(bridge, port, owner) of every port that carries a wirework owner tag."""
        if not self.available():
            return []
        out = []
        for bridge in self.vsctl("list-br").split():
            for port in self.ports(bridge):
                owner = self._owner("port", port)
                if owner:
                    out.append((bridge, port, owner))
        return out

    def _get(self, table: str, name: str, column: str) -> str | None:
        try:
            raw = self.vsctl("--if-exists", "get", table, name, column).strip()
        except ProgramFailed:
            return None
        return json.loads(raw) if raw.startswith('"') else (raw or None)

    def _owner(self, table: str, name: str) -> str | None:
        try:
            raw = self.vsctl("--if-exists", "get", table, name, f"external_ids:{OVS_OWNER_KEY}").strip()
        except ProgramFailed:
            return None
        return json.loads(raw) if raw.startswith('"') else (raw or None)


def _ovs_map(raw: str) -> dict[str, str]:
    """`{key="1", remote_ip="10.0.0.2"}` (ovs-vsctl's map syntax) as a dict."""
    out: dict[str, str] = {}
    body = raw.strip().strip("{}").strip()
    for item in body.split(", ") if body else []:
        key, _, value = item.partition("=")
        out[key.strip()] = json.loads(value) if value.startswith('"') else value
    return out

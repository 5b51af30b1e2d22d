"""Drive CNI plugins the way runtimes do: CNI_* environment + configuration on stdin, then the
exit status and the JSON on stdout. A small runtime for configuration lists (ADD in order with
`prevResult` chaining, CHECK with the final result, DEL in reverse, GC with valid attachments).

The wirework plugin is the launcher `wirework cni install` writes; it runs in the test's own
namespace and is pointed at the throwaway "host" namespace with WIREWORK_NETNS; it forwards to
a resident service when `service` names its socket, and runs in-process otherwise. Reference
plugins from /usr/lib/cni act on the namespace they run in, so they run inside the host one.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from dataclasses import dataclass, field
from typing import Any

REFERENCE_DIR = "/usr/lib/cni"


@dataclass
class Call:
    code: int
    stdout: str
    stderr: str

    @property
    def out(self) -> dict[str, Any]:
        return json.loads(self.stdout) if self.stdout.strip() else {}

    def error_code(self) -> int:
        assert self.code != 0, f"expected a failure, got exit 0: {self.stdout}"
        return int(self.out["code"])


@dataclass
class Cni:
    bindir: str  # holds the `wirework` launcher
    host: str  # the "host" namespace
    state_dir: str
    service: str | None = None  # the resident service's socket; None: every call runs in-process
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return f"{self.bindir}:{REFERENCE_DIR}"

    def env(self, command: str, cid: str = "", netns: str = "", ifname: str = "eth0", args: str = "") -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "CNI_COMMAND": command,
               "CNI_CONTAINERID": cid, "CNI_NETNS": netns, "CNI_IFNAME": ifname, "CNI_ARGS": args,
               "CNI_PATH": self.path, "WIREWORK_NETNS": self.host, "WIREWORK_STATE_DIR": self.state_dir}
        env.update({"WIREWORK_SOCKET": self.service} if self.service else {"WIREWORK_NO_SERVICE": "1"})
        return {**env, **self.extra_env}

    def call(self, command: str, conf: dict[str, Any] | str, *, cid: str = "", netns: str = "", ifname: str = "eth0",
             args: str = "", env: dict[str, str | None] | None = None, plugin: str = "wirework") -> Call:
        full = self.env(command, cid, netns, ifname, args)
        for key, value in (env or {}).items():
            if value is None:
                full.pop(key, None)
            else:
                full[key] = value
        stdin = conf if isinstance(conf, str) else json.dumps(conf)
        argv = [os.path.join(self.bindir, plugin)]
        if plugin != "wirework":  # a reference plugin: it acts on the namespace it runs in
            argv = ["ip", "netns", "exec", self.host, os.path.join(REFERENCE_DIR, plugin)]
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=full, timeout=120, check=False)
        return Call(done.returncode, done.stdout, done.stderr)

    def ok(self, command: str, conf: dict[str, Any] | str, **kw: Any) -> dict[str, Any]:
        call = self.call(command, conf, **kw)
        assert call.code == 0, f"{command} failed ({call.code}): {call.stdout} {call.stderr}"
        return call.out

    # -- configuration lists, as a runtime executes them (CNI spec, section 3) ---------------
    def plugin_conf(self, conflist: dict[str, Any], plugin: dict[str, Any], runtime: dict[str, Any],
                    prev: dict[str, Any] | None) -> dict[str, Any]:
        conf = {"cniVersion": conflist["cniVersion"], "name": conflist["name"], **copy.deepcopy(plugin)}
        caps = conf.pop("capabilities", {})
        wanted = {k: v for k, v in runtime.items() if caps.get(k)}
        if wanted:
            conf["runtimeConfig"] = wanted
        if prev is not None:
            conf["prevResult"] = prev
        return conf

    def add_list(self, conflist: dict[str, Any], cid: str, netns: str, runtime: dict[str, Any] | None = None,
                 **kw: Any) -> dict[str, Any]:
        prev: dict[str, Any] | None = None
        for plugin in conflist["plugins"]:
            conf = self.plugin_conf(conflist, plugin, runtime or {}, prev)
            prev = self.ok("ADD", conf, cid=cid, netns=netns, plugin=plugin["type"], **kw)
        assert prev is not None
        return prev

    def check_list(self, conflist: dict[str, Any], cid: str, netns: str, result: dict[str, Any],
                   runtime: dict[str, Any] | None = None, **kw: Any) -> list[Call]:
        return [self.call("CHECK", self.plugin_conf(conflist, p, runtime or {}, result), cid=cid, netns=netns,
                          plugin=p["type"], **kw) for p in conflist["plugins"]]

    def del_list(self, conflist: dict[str, Any], cid: str, netns: str, result: dict[str, Any] | None,
                 runtime: dict[str, Any] | None = None, **kw: Any) -> None:
        for plugin in reversed(conflist["plugins"]):
            self.ok("DEL", self.plugin_conf(conflist, plugin, runtime or {}, result), cid=cid, netns=netns,
                    plugin=plugin["type"], **kw)


def conf(name: str, version: str = "1.1.0", **fields: Any) -> dict[str, Any]:
    """A single wirework plugin configuration (what a runtime passes for a one-plugin list)."""
    return {"cniVersion": version, "name": name, "type": "wirework", **fields}

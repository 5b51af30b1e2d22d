"""The CNI_* environment of one invocation, validated (CNI spec 1.1, section 2, "Parameters").

Which variable each command requires follows the spec: ADD and CHECK need the container id,
the namespace and the interface name; DEL needs no namespace (it may be gone); GC needs
CNI_PATH; VERSION and STATUS need only the command. Every missing variable is named in one
error (code 4), as the spec asks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from wirework.errors import InvalidEnvironment, UnsupportedField

COMMANDS = ("ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION")
ATTACHMENT_COMMANDS = ("ADD", "DEL", "CHECK")  # the ones about one (container, interface)
REQUIRED = {
    "ADD": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"),
    "CHECK": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"),
    "DEL": ("CNI_CONTAINERID", "CNI_IFNAME"),
    "GC": ("CNI_PATH",),
    "STATUS": (),
    "VERSION": (),
}
#: CNI_ARGS keys this plugin reads, and those runtimes commonly send that it may ignore.
KNOWN_ARGS = ("IP", "MAC", "IgnoreUnknown")
IGNORED_ARGS = ("K8S_POD_NAME", "K8S_POD_NAMESPACE", "K8S_POD_INFRA_CONTAINER_ID", "K8S_POD_UID")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class CniEnv:
    command: str
    container_id: str = ""
    netns: str = ""
    ifname: str = ""
    args: dict[str, str] = field(default_factory=dict)
    path: str = ""


def parse_env(env: Mapping[str, str]) -> CniEnv:
    command = env.get("CNI_COMMAND", "")
    if not command:
        raise InvalidEnvironment(variable="CNI_COMMAND", value="", why=f"it is missing; use one of {', '.join(COMMANDS)}")
    if command not in COMMANDS:
        raise InvalidEnvironment(variable="CNI_COMMAND", value=command, why=f"unknown command; use one of {', '.join(COMMANDS)}")
    missing = [name for name in REQUIRED[command] if not env.get(name)]
    if missing:
        raise InvalidEnvironment(f"required environment variables missing for {command}: {', '.join(missing)}")
    if command not in ATTACHMENT_COMMANDS:
        # Runtimes fill the others with placeholders here (libcni's VERSION sends CNI_NETNS=dummy).
        return CniEnv(command, path=env.get("CNI_PATH", ""))
    netns = env.get("CNI_NETNS", "") if command != "DEL" else ""  # DEL must work when it is gone anyway
    parsed = CniEnv(command, env.get("CNI_CONTAINERID", ""), netns, env.get("CNI_IFNAME", ""),
                    parse_args(env.get("CNI_ARGS", "")), env.get("CNI_PATH", ""))
    if not _ID.match(parsed.container_id):
        raise InvalidEnvironment(variable="CNI_CONTAINERID", value=parsed.container_id,
                                 why="use letters, digits, '_', '.' or '-', starting with a letter or digit")
    _check_ifname(parsed.ifname)
    if parsed.netns and not parsed.netns.startswith("/"):
        raise InvalidEnvironment(variable="CNI_NETNS", value=parsed.netns,
                                 why="give the path of a network namespace, like /run/netns/NAME")
    return parsed


def _check_ifname(name: str) -> None:
    why = None
    if len(name.encode()) > 15:
        why = f"it has {len(name.encode())} characters, Linux allows at most 15"
    elif name in (".", "..") or any(c in name for c in "/:") or any(c.isspace() for c in name):
        why = "it may not be '.' or '..' nor contain '/', ':' or white space"
    if why:
        raise InvalidEnvironment(variable="CNI_IFNAME", value=name, why=why)


def parse_args(text: str) -> dict[str, str]:
    """`K=V;K2=V2`. Unknown keys are refused (code 2) unless `IgnoreUnknown=1`, as the
    reference plugins do; keys runtimes send for other plugins (K8S_*) are always fine."""
    args: dict[str, str] = {}
    for item in filter(None, text.split(";")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidEnvironment(variable="CNI_ARGS", value=text, why=f"{item!r} is not KEY=VALUE; separate pairs with ';'")
        args[key] = value
    ignore = args.get("IgnoreUnknown", "").lower() in ("1", "true")
    for key, value in args.items():
        if key not in KNOWN_ARGS and key not in IGNORED_ARGS and not ignore:
            raise UnsupportedField(field=f"CNI_ARGS {key}", value=value,
                                   why=f"this plugin reads {', '.join(KNOWN_ARGS)}; add IgnoreUnknown=1 to pass others")
    return args

"""CNI specification versions: which this plugin speaks, and which command needs which.

0.3.0 introduced the result format used here (interfaces, ips with an interface index,
routes, dns); 0.4.0 added CHECK; 1.0.0 dropped the `version` field of each IP; 1.1.0 added
GC, STATUS and `mtu` on interfaces. 0.1.0/0.2.0 results have another shape: not supported.
"""

from __future__ import annotations

from wirework.errors import IncompatibleVersion

SUPPORTED = ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
LATEST = SUPPORTED[-1]
#: The oldest version in which each command exists (ADD and DEL exist in all of SUPPORTED).
SINCE = {"CHECK": "0.4.0", "GC": "1.1.0", "STATUS": "1.1.0"}


def parse(version: str) -> tuple[int, ...]:
    try:
        parts = tuple(int(p) for p in version.split("."))
    except ValueError:
        return ()
    return parts if len(parts) == 3 else ()


def at_least(version: str, minimum: str) -> bool:
    return parse(version) >= parse(minimum)


def require(version: object, command: str) -> str:
    """The configuration's cniVersion, refused (code 1) when unknown or too old for `command`."""
    if not isinstance(version, str) or not version:
        raise IncompatibleVersion(version=str(version or ""), why=" (the configuration has no cniVersion string)",
                                  supported=", ".join(SUPPORTED))
    if version not in SUPPORTED:
        raise IncompatibleVersion(version=version, why="", supported=", ".join(SUPPORTED))
    minimum = SINCE.get(command)
    if minimum is not None and not at_least(version, minimum):
        raise IncompatibleVersion(version=version, why=f" for {command}, which exists since {minimum}",
                                  supported=", ".join(v for v in SUPPORTED if at_least(v, minimum)))
    return version


def modern(version: str) -> bool:
    """1.0.0 and later: IPs carry no `version` field."""
    return at_least(version, "1.0.0")

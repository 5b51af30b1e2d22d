"""Error types shared by every layer.

Every error names the object, the cause and the fix. Messages are filled from keyword
arguments so that the CLI, the resident service and (later) the CNI and Docker plugins
can render them the same way; each type carries its exit status and CNI error code.

The CNI codes are the spec's (CNI 1.1, "Error"): `CNI_MESSAGES` gives the short message the
CNI front puts beside each code; the error's own text goes into the details.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

#: CNI spec error codes and their short messages; 100+ are wirework's own (the spec leaves
#: them to plugins), 999 is libcni's "internal error".
CNI_MESSAGES: dict[int, str] = {
    1: "incompatible CNI version",
    2: "unsupported field in network configuration",
    3: "container unknown or does not exist",
    4: "invalid environment variables",
    5: "I/O failure",
    6: "failed to decode content",
    7: "invalid network configuration",
    11: "try again later",
    50: "plugin not available",
    51: "plugin not available; existing containers may have limited connectivity",
    100: "attachment differs from what ADD made",
    999: "internal error",
}


class WireworkError(Exception):
    """Base of every error wirework raises on purpose."""

    template: ClassVar[str] = "{detail}"
    exit_code: ClassVar[int] = 1
    #: CNI error code (CNI spec 1.x, "Error" section); 11 = "try again later".
    cni_code: ClassVar[int] = 999

    def __init__(self, message: str | None = None, /, **fields: Any) -> None:
        self.fields = fields
        text = message if message is not None else self.template.format(**fields)
        fix = fields.get("fix")
        if fix and message is None and "{fix}" not in self.template:
            text = f"{text}; {fix}"
        super().__init__(text)



def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """"; did you mean 'web'?" for a near name among candidates, else ""."""
    import difflib

    names = sorted({c for c in candidates if c and c != word})
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    if not close:  # a prefix or a part of a longer name counts too ("web" for "web-frontend")
        close = [c for c in names if len(word) >= 3 and (c.startswith(word) or word in c)][:1]
    return f"; did you mean {close[0]!r}?" if close else ""


class InvalidInput(WireworkError):
    """The user's input is malformed or inconsistent; nothing was touched."""

    template = "{what} {value!r} is invalid: {why}"
    exit_code = 2
    cni_code = 7


class NotFound(WireworkError):
    template = "{what} {name!r} not found"
    exit_code = 3
    cni_code = 3


class GuestNotFound(NotFound):
    template = "guest {name!r} not found (tried: {tried})"


class NamespaceGone(NotFound):
    """A guest's network namespace no longer exists (its interfaces went with it)."""

    template = "network namespace {name!r} no longer exists"


class GuestNotRunning(WireworkError):
    template = "container {name!r} is not running; start it with 'docker start {name}' first"
    exit_code = 3
    cni_code = 3


class Conflict(WireworkError):
    """The request collides with something that already exists."""

    exit_code = 4
    cni_code = 11


class Unsupported(WireworkError):
    """The kernel or a program on this host lacks a part the request needs."""

    template = "{feature} is not available on this host: {why}"
    exit_code = 5
    cni_code = 50


class StepFailed(WireworkError):
    """A kernel change failed; the steps already applied were rolled back."""

    template = "step failed: {step}: {cause}"
    exit_code = 6
    cni_code = 999


class ServiceError(WireworkError):
    """The resident service could not be reached or answered nonsense."""

    exit_code = 7


class StateError(WireworkError):
    """The state store is unreadable or in an unexpected shape."""

    exit_code = 8


class StoreUnavailable(StateError):
    """The shared store (etcd) cannot be reached; nothing was changed."""

    cni_code = 11


class StoreCompacted(StateError):
    """A watch asked for history the store no longer keeps: re-read everything."""


class LeaseExpired(StateError):
    """A put named a lease that has expired or was revoked: grant a new one (and re-create the keys)."""


# -- what the CNI front reports (each with the spec's code) ---------------------------------
class IncompatibleVersion(InvalidInput):
    template = "CNI version {version!r} is not supported{why}; supported: {supported}"
    cni_code = 1


class UnsupportedField(InvalidInput):
    """A configuration key (or CNI_ARGS key) this plugin does not know: named with its value."""

    template = "field {field!r} = {value!r} is not supported: {why}"
    cni_code = 2


class InvalidEnvironment(InvalidInput):
    """A CNI_* variable is missing or wrong; the message names the variable."""

    template = "environment variable {variable} = {value!r} is invalid: {why}"
    cni_code = 4


class DecodingFailure(InvalidInput):
    template = "cannot decode {what}: {why}"
    cni_code = 6


class InvalidConfig(InvalidInput):
    """The network configuration is inconsistent (with itself or with what is stored)."""

    template = "{what} {value!r} is invalid: {why}"
    cni_code = 7


class NotAvailable(WireworkError):
    """The plugin cannot serve ADD requests now (STATUS)."""

    template = "cannot serve ADD: {why}"
    exit_code = 7
    cni_code = 50


class Drifted(WireworkError):
    """CHECK: what ADD made is missing or changed (removed by hand, say)."""

    template = "{what} of container {container} is {state}: {detail}"
    exit_code = 9
    cni_code = 100

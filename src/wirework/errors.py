"""Error types shared by every layer.

Every error names the object, the cause and the fix. Messages are filled from keyword
arguments so that the CLI, the resident service and (later) the CNI and Docker plugins
can render them the same way; each type carries its exit status and CNI error code.
"""

from __future__ import annotations

from typing import Any, ClassVar


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
    cni_code = 4


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

"""One CLI request's environment, working directory and streams, without touching globals.

A one-shot `wirework` process serves one request: its own environment, cwd and streams. The
resident service serves many at once, one thread each, so it must not swap the process-wide
`os.environ`, cwd or `sys.stdout` per request: each request carries its own here
(`RequestContext`, set by `cli.app.run` in a context variable), and the service installs
`RoutedStream`s as `sys.stdout`/`sys.stderr`/`sys.stdin` once, which send every `print()` to
the stream of the request running in the calling thread.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, TextIO


class RequestContext:
    # A plain class, not a dataclass: `dataclasses` imports `inspect` (~8 ms) on the cold path.
    def __init__(self, env: Mapping[str, str], cwd: str, stdout: TextIO, stderr: TextIO,
                 stdin: TextIO | None = None) -> None:
        self.env = env
        self.cwd = cwd
        self.stdout = stdout
        self.stderr = stderr
        self.stdin = stdin
        #: Run when the request ends, newest first (session locks, one-shot sessions to close).
        self.cleanups: list[Callable[[], None]] = []

    def getenv(self, key: str, default: str | None = None) -> str | None:
        return self.env.get(key, default)

    def path(self, value: str) -> str:
        """A path given by the client, made absolute against the client's working directory."""
        return value if os.path.isabs(value) else os.path.normpath(os.path.join(self.cwd, value))

    def finish(self) -> None:
        while self.cleanups:
            self.cleanups.pop()()


_CURRENT: ContextVar[RequestContext | None] = ContextVar("wirework_request", default=None)


def current() -> RequestContext:
    """The running request; outside any, the process's own environment and streams."""
    found = _CURRENT.get()
    if found is not None:
        return found
    return RequestContext(os.environ, os.getcwd(), sys.stdout, sys.stderr, sys.stdin)


def enter(context: RequestContext) -> Any:
    return _CURRENT.set(context)


def leave(token: Any) -> None:
    _CURRENT.reset(token)


class RoutedStream(io.TextIOBase):
    """A process-wide stream that writes to (or reads from) the calling request's own stream."""

    def __init__(self, name: str, fallback: TextIO) -> None:
        self.name_ = name
        self.fallback = fallback

    def _target(self) -> TextIO:
        found = _CURRENT.get()
        target = getattr(found, self.name_, None) if found is not None else None
        return target if target is not None else self.fallback

    def write(self, text: str) -> int:  # type: ignore[override]
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def read(self, size: int | None = -1) -> str:
        return self._target().read(-1 if size is None else size)

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        return self._target().readline(-1 if size is None else size)

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True


def install_routing() -> None:
    """Make `sys.stdout`/`stderr`/`stdin` follow the calling request (once per process; the service)."""
    for name in ("stdout", "stderr", "stdin"):
        stream = getattr(sys, name)
        if not isinstance(stream, RoutedStream):
            setattr(sys, name, RoutedStream(name, stream))

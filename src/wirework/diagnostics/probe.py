"""Real packets for `wirework check`: tiny TCP/UDP responders and probes inside namespaces.

A socket created while the thread is inside a namespace stays in it, so responders are
opened through `kernel.netns.inside` and served by one thread, and probes run in a small
thread pool. A responder answers with its name and the address it saw the client come from,
so a probe knows *who* answered (the guest, not the host refusing) and whether the source
was masqueraded.
"""

from __future__ import annotations

import selectors
import socket
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from wirework.kernel.netns import inside

TIMEOUT = 0.8


@dataclass(frozen=True)
class Responder:
    name: str
    netns: str | None
    port: int
    proto: str = "tcp"


@dataclass(frozen=True)
class Probe:
    netns: str | None
    addr: str
    port: int
    proto: str = "tcp"


@dataclass(frozen=True)
class Answer:
    name: str  # "" when nothing answered; "?" when a server answered that is not a responder
    seen_as: str = ""
    connected: bool = False  # a TCP connection was accepted (a reachable server, whoever it is)


class Responders:
    """Serve every responder until closed (a context manager)."""

    def __init__(self, specs: Sequence[Responder]) -> None:
        self.sel = selectors.DefaultSelector()
        self.socks: list[socket.socket] = []
        self._stop = threading.Event()
        for spec in specs:
            self._open(spec)
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _open(self, spec: Responder) -> None:
        kind = socket.SOCK_STREAM if spec.proto == "tcp" else socket.SOCK_DGRAM
        with inside(spec.netns):
            sock = socket.socket(socket.AF_INET, kind)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", spec.port))
        except OSError:
            sock.close()
            return  # the guest already serves that port: probes then see its own answer
        if spec.proto == "tcp":
            sock.listen(64)
        sock.setblocking(False)
        self.socks.append(sock)
        self.sel.register(sock, selectors.EVENT_READ, spec)

    def _serve(self) -> None:
        while not self._stop.is_set():
            for key, _ in self.sel.select(timeout=0.05):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                spec: Responder = key.data
                try:
                    self._answer(sock, spec)
                except OSError:
                    continue

    @staticmethod
    def _answer(sock: socket.socket, spec: Responder) -> None:
        if spec.proto == "tcp":
            conn, peer = sock.accept()
            with conn:
                conn.setblocking(True)
                conn.sendall(f"{spec.name} {peer[0]}\n".encode())
        else:
            _, peer = sock.recvfrom(64)
            sock.sendto(f"{spec.name} {peer[0]}\n".encode(), peer)

    def __enter__(self) -> Responders:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.thread.join(timeout=2)
        for sock in self.socks:
            sock.close()
        self.sel.close()


def probe(p: Probe) -> Answer:
    kind = socket.SOCK_STREAM if p.proto == "tcp" else socket.SOCK_DGRAM
    with inside(p.netns):
        sock = socket.socket(socket.AF_INET, kind)
    with sock:
        sock.settimeout(TIMEOUT)
        try:
            if p.proto == "tcp":
                sock.connect((p.addr, p.port))
            else:
                sock.sendto(b"check", (p.addr, p.port))
        except OSError:
            return Answer("")
        try:
            data = sock.recv(128)
        except OSError:
            # A server that waits for the client to speak first (HTTP, say): the connection
            # completed, so the port is reachable; UDP without an answer says nothing.
            return Answer("?", connected=p.proto == "tcp")
    parts = data.decode(errors="replace").split()
    return Answer(parts[0], parts[1], True) if len(parts) == 2 else Answer("?", connected=p.proto == "tcp")


def run_probes(probes: Sequence[Probe]) -> list[Answer]:
    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(probe, probes))

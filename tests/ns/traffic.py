"""Real traffic between a test's own namespaces: TCP and UDP servers that answer who they are
and whom they see, and clients that ask several at once.

A server answers each TCP connection and each UDP datagram with "NAME CLIENT-ADDRESS", so a
test proves both that the packet arrived at the right guest and what source address it saw
(masquerade or not). Nothing is sent outside the namespaces the test made.
"""

from __future__ import annotations

import subprocess
import sys

_SERVER = r"""
import socket, sys, threading
name, specs = sys.argv[1], sys.argv[2:]
def tcp(s):
    while True:
        c, addr = s.accept()
        with c:
            c.sendall(f"{name} {addr[0]}\n".encode())
def udp(s):
    while True:
        _, addr = s.recvfrom(2048)
        s.sendto(f"{name} {addr[0]}".encode(), addr)
socks = []
for spec in specs:
    port, proto = spec.split("/")
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(port)))
    if proto == "tcp":
        s.listen(64)
    socks.append((tcp if proto == "tcp" else udp, s))
for fn, s in socks:
    threading.Thread(target=fn, args=(s,), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""

_CLIENT = r"""
import socket, sys
host, port, proto = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    if proto == "tcp":
        c = socket.create_connection((host, port), timeout=1)
        data = c.recv(200)
    else:
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.settimeout(1)
        c.sendto(b"hi", (host, port))
        data = c.recvfrom(200)[0]
except OSError:
    sys.exit(1)
print(data.decode().strip())
"""


class Servers:
    """Servers started by a test, each stopped by the process it is (never by name)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, ns: str, name: str, *ports: str) -> None:
        """`ports` like "8080/tcp", "5353/udp"; returns once every socket is bound."""
        proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", _SERVER, name, *ports],
                                stdout=subprocess.PIPE, text=True)
        self.procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", f"server in {ns} did not start"

    def stop(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait()


def ask(targets: list[tuple[str, str, int, str]]) -> list[str | None]:
    """For each (client netns, address, port, proto): the answer, or None when none came within 1 s."""
    procs = [subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", _CLIENT, host, str(port), proto],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
             for ns, host, port, proto in targets]
    out = []
    for proc in procs:
        text, _ = proc.communicate(timeout=30)
        out.append(text.strip() if proc.returncode == 0 else None)
    return out

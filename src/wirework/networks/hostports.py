"""Which ports programs of the host namespace listen on (to refuse publishing over them).

Read from /proc/thread-self/net/{tcp,udp}[6], which show the calling thread's namespace, so
the read happens inside the host namespace through the one scoped switch.
"""

from __future__ import annotations

from wirework.kernel.netns import inside, netns_path

_FILES = (("tcp", "tcp", "0A"), ("tcp", "tcp6", "0A"), ("udp", "udp", "07"), ("udp", "udp6", "07"))


def listening_ports(netns: str | None) -> set[tuple[str, int]]:
    """{(proto, port)} of listening TCP sockets and bound UDP sockets in the host `netns`."""
    out: set[tuple[str, int]] = set()
    with inside(netns_path(netns) if netns else None):
        for proto, name, state in _FILES:
            try:
                with open(f"/proc/thread-self/net/{name}", encoding="ascii") as f:
                    lines = f.read().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                parts = line.split()
                if len(parts) > 3 and parts[3] == state:
                    out.add((proto, int(parts[1].rsplit(":", 1)[1], 16)))
    return out

"""sysctl values per network namespace (/proc/sys/net follows the calling thread's netns)."""

from __future__ import annotations

from wirework.kernel.netns import inside


class Sysctl:
    def __init__(self, netns_path: str | None = None) -> None:
        self.netns_path = netns_path

    def _path(self, key: str) -> str:
        # sysctl(8)'s convention: dots separate the key's parts, a '/' stands for a dot inside
        # one part (an interface named br.x is net.ipv4.conf.br/x.forwarding).
        return "/proc/sys/" + key.translate(str.maketrans("./", "/."))

    def get(self, key: str, ns: str | None = None) -> str | None:
        with inside(ns or self.netns_path):
            try:
                with open(self._path(key), encoding="ascii") as f:
                    return f.read().strip()
            except FileNotFoundError:
                return None

    def set(self, key: str, value: str, ns: str | None = None) -> None:
        with inside(ns or self.netns_path), open(self._path(key), "w", encoding="ascii") as f:
            f.write(value)

"""Network namespace handles, the one scoped helper that switches into one, and sysctl per namespace.

setns(2) moves only the calling thread, so `inside()` switches, runs the body and switches
back, always in the same thread. Everything else holds per-namespace sockets opened through
it and never switches by itself.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager

from wirework.errors import NamespaceGone

CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/run/netns"

# The interpreter's own symbols, which hold libc's: ctypes.util.find_library("c") runs ldconfig
# (a fork and exec, ~30 ms of a cold command).
_libc = ctypes.CDLL(None, use_errno=True)


def netns_path(netns: str) -> str:
    """A named netns ('h1') or a path ('/proc/12/ns/net') as a path."""
    return netns if "/" in netns else os.path.join(NETNS_RUN_DIR, netns)


def setns_fd(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns failed: {os.strerror(err)}")


def open_netns(path: str) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NamespaceGone(name=path) from None


def netns_id(path: str) -> str:
    """A stable identity for a namespace file: device and inode of the nsfs object."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise NamespaceGone(name=path) from None
    return f"{st.st_dev}:{st.st_ino}"


@contextmanager
def inside(path: str | None) -> Iterator[None]:
    """Run the body with the calling thread in the netns at `path` (None: stay)."""
    if path is None:
        yield
        return
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = open_netns(path)
    try:
        setns_fd(target)
        try:
            yield
        finally:
            setns_fd(own)
    finally:
        os.close(target)
        os.close(own)


def create_named(name: str) -> str:
    """Create /run/netns/NAME the way `ip netns add` does (unshare + bind mount)."""
    from wirework.kernel.netlink_lib import netns as pyroute2_netns

    path = netns_path(name)
    if not os.path.exists(path):
        pyroute2_netns.create(name)
    return path


def remove_named(name: str) -> None:
    from wirework.kernel.netlink_lib import netns as pyroute2_netns

    if os.path.exists(netns_path(name)):
        pyroute2_netns.remove(name)


# -- sysctl values per network namespace (/proc/sys/net follows the calling thread's netns) ----
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

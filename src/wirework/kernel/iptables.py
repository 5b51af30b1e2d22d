"""Coexistence with iptables users (Docker) on the same host.

Docker sets the filter FORWARD policy to DROP, and with br_netfilter bridged frames traverse
it, so two guests on a bridge Docker does not know cannot talk. An accept in wirework's own
nftables table cannot help (any base chain's drop wins), so wirework inserts one tagged
accept rule per bridge into Docker's `DOCKER-USER` chain (or `FORWARD` when Docker is not
there), through the `iptables` program so the backend Docker uses (nft or legacy) is used.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from wirework.kernel.proc import Processes, ProgramFailed

DOCKER_USER = "DOCKER-USER"


def owner_comment(owner: str) -> str:
    """How `iptables -S` prints the comment of a rule wirework added."""
    return f'"wirework:{owner}"'


#: How long a read of the FORWARD policy and of wirework's accept rules is trusted. The
#: resident service attaches many guests to one bridge; each `iptables` run costs ~10 ms.
_CACHE_TTL = 10.0


class Iptables:
    def __init__(self, proc: Processes) -> None:
        self.proc = proc
        self._cache: dict[str, tuple[float, object]] = {}

    def _cached(self, key: str, read: Callable[[], object]) -> object:
        hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < _CACHE_TTL:
            return hit[1]
        value = read()
        self._cache[key] = (time.monotonic(), value)
        return value

    def _changed(self) -> None:
        self._cache.clear()

    def _ipt(self, *args: str) -> str:
        return self.proc.run_in(None, ["iptables", "-w", "5", *args], timeout=15)

    def available(self) -> bool:
        return self.proc.which("iptables") is not None

    def forward_blocked(self) -> bool:
        """True when the FORWARD policy is DROP (as Docker leaves it)."""
        return self._state()[0]

    def has_bridge_forward(self, bridge: str, owner: str) -> bool:
        """Whether the accept rule for `bridge` is in place (read from a cached listing)."""
        return f"-i {bridge} -o {bridge} -m comment --comment {owner_comment(owner)} -j ACCEPT" in self._state()[1]

    def bridges_with_forward(self) -> list[str]:
        """Bridges that have a wirework accept rule (`-i B -o B ... wirework:bridge:B`)."""
        return sorted(set(re.findall(r'-i (\S+) -o \1 -m comment --comment "wirework:bridge:\1"', self._state()[1])))

    def refresh(self) -> None:
        """Read the filter table again now (the service does it in the background while a host is
        in use, so that its requests find the listing fresh)."""
        self._cache["state"] = (time.monotonic(), self._read())

    def _state(self) -> tuple[bool, str]:
        state = self._cached("state", self._read)
        assert isinstance(state, tuple)
        return state

    def _read(self) -> tuple[bool, str]:
        """(FORWARD's policy is DROP, the filter table's rules), from one `iptables -S` run: the
        rules wirework adds live in DOCKER-USER or FORWARD, each line names its chain."""
        if not self.available():
            return False, ""
        try:
            listing = self._ipt("-S")
        except ProgramFailed:
            return False, ""
        return "-P FORWARD DROP" in listing.splitlines(), listing

    def _chain(self) -> str:
        try:
            self._ipt("-S", DOCKER_USER)
            return DOCKER_USER
        except ProgramFailed:
            return "FORWARD"

    def _rule(self, bridge: str, owner: str) -> list[str]:
        return ["-i", bridge, "-o", bridge, "-m", "comment", "--comment", f"wirework:{owner}", "-j", "ACCEPT"]

    def _has(self, chain: str, rule: list[str]) -> bool:
        try:
            self._ipt("-C", chain, *rule)
        except ProgramFailed:
            return False
        return True

    def ensure_bridge_forward(self, bridge: str, owner: str) -> bool:
        """Insert the accept rule unless present; True when it was added."""
        chain = self._chain()
        rule = self._rule(bridge, owner)
        if self._has(chain, rule):
            return False
        self._changed()
        self._ipt("-I", chain, "1", *rule)
        return True

    def _io_rules(self, bridge: str, owner: str) -> list[list[str]]:
        comment = ["-m", "comment", "--comment", f"wirework:{owner}", "-j", "ACCEPT"]
        return [["-i", bridge, *comment], ["-o", bridge, *comment]]

    def ensure_bridge_accept(self, bridge: str, owner: str) -> bool:
        """Accept everything from and to `bridge` (wirework's nft table filters it); True if added.

        Used for the bridges of wirework networks, whose isolation and NAT policy is enforced
        in `inet wirework`: these accepts only neutralise a DROP policy of FORWARD.
        """
        self._changed()
        chain = self._chain()
        added = False
        for rule in self._io_rules(bridge, owner):
            if not self._has(chain, rule):
                self._ipt("-I", chain, "1", *rule)
                added = True
        return added

    def remove_bridge_accept(self, bridge: str, owner: str) -> bool:
        self._changed()
        removed = False
        for chain in (DOCKER_USER, "FORWARD"):
            for rule in self._io_rules(bridge, owner):
                while self._has(chain, rule):
                    self._ipt("-D", chain, *rule)
                    removed = True
        return removed

    def remove_bridge_forward(self, bridge: str, owner: str) -> bool:
        self._changed()
        removed = False
        rule = self._rule(bridge, owner)
        for chain in (DOCKER_USER, "FORWARD"):
            while self._has(chain, rule):
                self._ipt("-D", chain, *rule)
                removed = True
        return removed

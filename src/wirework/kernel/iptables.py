"""Coexistence with iptables users (Docker) on the same host.

Docker sets the filter FORWARD policy to DROP, and with br_netfilter bridged frames traverse
it, so two guests on a bridge Docker does not know cannot talk. An accept in wirework's own
nftables table cannot help (any base chain's drop wins), so wirework inserts one tagged
accept rule per bridge into Docker's `DOCKER-USER` chain (or `FORWARD` when Docker is not
there), through the `iptables` program so the backend Docker uses (nft or legacy) is used.
"""

from __future__ import annotations

from wirework.kernel.proc import Processes, ProgramFailed

DOCKER_USER = "DOCKER-USER"


class Iptables:
    def __init__(self, proc: Processes) -> None:
        self.proc = proc

    def _ipt(self, *args: str) -> str:
        return self.proc.run_in(None, ["iptables", "-w", "5", *args], timeout=15)

    def available(self) -> bool:
        return self.proc.which("iptables") is not None

    def forward_blocked(self) -> bool:
        """True when the FORWARD policy is DROP (as Docker leaves it)."""
        if not self.available():
            return False
        try:
            first = self._ipt("-S", "FORWARD").splitlines()
        except ProgramFailed:
            return False
        return bool(first) and first[0].strip() == "-P FORWARD DROP"

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
        self._ipt("-I", chain, "1", *rule)
        return True

    def remove_bridge_forward(self, bridge: str, owner: str) -> bool:
        removed = False
        rule = self._rule(bridge, owner)
        for chain in (DOCKER_USER, "FORWARD"):
            while self._has(chain, rule):
                self._ipt("-D", chain, *rule)
                removed = True
        return removed

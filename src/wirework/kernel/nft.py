"""nftables through libnftables (ctypes), with JSON in and out; `nft -j -f -` as fallback.

Debian's python3-nftables only imports from Debian's own interpreter, so this is a small
ctypes binding to `libnftables.so.1`. A libnftables context talks to the kernel over a
netlink socket bound to the netns of the thread that uses it, so every context is created
and every batch is run inside `kernel.netns.inside(path)`: one context per namespace, kept
for the life of the adapter (about 1 ms per batch instead of 20 ms per `nft` process).

Each `run()` is one transaction: the kernel applies all commands of the batch or none.
Errors come back as wirework errors: "No such file or directory" as `NotFound`, "File
exists" as `Conflict`, anything else as `NftRejected`, each with nft's own message.
"""

from __future__ import annotations

import ctypes
import json
import subprocess
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from wirework.errors import Conflict, NotFound, WireworkError
from wirework.kernel.netns import inside
from wirework.kernel.proc import Processes

LIBRARY = "libnftables.so.1"
OUTPUT_JSON = 1 << 4
OUTPUT_HANDLE = 1 << 3


class NftRejected(WireworkError):
    """nft refused a batch; nothing of it was applied."""

    template = "nftables rejected the change: {detail}"
    exit_code = 6


def _load() -> ctypes.CDLL | None:
    try:
        lib = ctypes.CDLL(LIBRARY)
    except OSError:
        return None
    lib.nft_ctx_new.restype = ctypes.c_void_p
    lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
    lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
    lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
    lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
    lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
    lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
    lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
    return lib


_LIB = _load()


def classify(message: str) -> WireworkError:
    """Turn nft's error text into the wirework error a caller can act on."""
    lines = [line for line in message.strip().splitlines() if line.strip()]
    detail = lines[0] if lines else "unknown error"
    if "No such file or directory" in message:
        return NotFound(f"nftables object not found: {detail}")
    if "File exists" in message:
        return Conflict(f"nftables object exists with other contents: {detail}")
    return NftRejected(detail=" | ".join(lines[:3]) or "unknown error")


class Nft:
    """The nftables adapter of one network namespace (None: this process's own)."""

    def __init__(self, netns_path: str | None = None, *, use_library: bool = True) -> None:
        self.netns_path = netns_path
        self._use_library = use_library and _LIB is not None
        self._ctx: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def backend(self) -> str:
        return "libnftables" if self._use_library else "nft"

    def run(self, commands: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Run JSON commands as one atomic batch; return the objects nft printed (for list)."""
        if not commands:
            return []
        text = json.dumps({"nftables": list(commands)}, separators=(",", ":"))
        reading = all(set(c) == {"list"} for c in commands)
        output = self._run_text(text, "read" if reading else "write")
        if not output.strip():
            return []
        data: dict[str, Any] = json.loads(output)
        return [item for item in data.get("nftables", []) if "metainfo" not in item]

    def get_element(self, family: str, table: str, name: str, key: str) -> tuple[str, str] | None:
        """(value, comment) of one map element by key in nft syntax ("tcp . 8080"), or None.

        nft 1.0.6 has no JSON form of `get element` (and prints it as text), so this one query
        is text. It costs O(elements in the table) (nft fetches them all into its cache first),
        so wirework uses it only on error paths.
        """
        try:
            out = self._run_text(f"get element {family} {table} {name} {{ {key} }}", "read")
        except NotFound:
            return None
        return parse_element(out)

    def _run_text(self, text: str, purpose: str) -> str:
        if not self._use_library:
            return self._run_program(text)
        assert _LIB is not None
        with self._lock, inside(self.netns_path):
            ctx = self._context(purpose)
            rc = _LIB.nft_run_cmd_from_buffer(ctx, text.encode())
            out = (_LIB.nft_ctx_get_output_buffer(ctx) or b"").decode()
            err = (_LIB.nft_ctx_get_error_buffer(ctx) or b"").decode()
        if rc != 0:
            raise classify(err or "nft failed")
        return out

    def _context(self, purpose: str) -> int:
        # Created inside the target netns: the context's netlink socket belongs to it. Reads
        # get their own context: nft 1.0.6 caches every set element of a table it lists or
        # `get`s from, and a write context holding that cache pays to refresh it.
        if purpose not in self._ctx:
            assert _LIB is not None
            ctx = _LIB.nft_ctx_new(0)
            if not ctx:
                raise NftRejected(detail="nft_ctx_new failed")
            _LIB.nft_ctx_output_set_flags(ctx, OUTPUT_JSON)
            _LIB.nft_ctx_buffer_output(ctx)
            _LIB.nft_ctx_buffer_error(ctx)
            self._ctx[purpose] = int(ctx)
        return self._ctx[purpose]

    def _run_program(self, text: str) -> str:
        # Not through Processes.run: nft's whole stderr is needed to tell "exists" from "missing".
        nft = Processes().which("nft")
        if nft is None:
            raise NotFound(what="program", name="nft", fix="install it (apt-get install nftables)")
        argv = [nft, "-j", "-f", "-"] if text.startswith("{") else [nft, "-j", *text.split()]
        if self.netns_path is not None:
            argv = ["nsenter", f"--net={self.netns_path}", "--", *argv]
        try:
            done = subprocess.run(argv, input=text, capture_output=True, text=True, timeout=60, check=False)
        except subprocess.TimeoutExpired:
            raise NftRejected(detail="nft gave no answer within 60 s") from None
        if done.returncode != 0:
            raise classify(done.stderr or done.stdout or f"nft exited with {done.returncode}")
        return done.stdout

    def close(self) -> None:
        with self._lock:
            if _LIB is not None:
                for ctx in self._ctx.values():
                    _LIB.nft_ctx_free(ctx)
            self._ctx = {}

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


def parse_element(text: str) -> tuple[str, str] | None:
    """Value and comment of the element in `get element` output (`{ k comment "c" : v }`)."""
    start = text.find("elements = {")
    if start < 0:
        return None
    body = text[start + len("elements = {"): text.find("}", start)].strip()
    key, _, value = body.rpartition(" : ")
    comment = ""
    marker = ' comment "'
    if marker in key:
        comment = key.split(marker, 1)[1].rstrip('"')
    return value.strip(), comment

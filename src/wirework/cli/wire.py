"""The service socket's framing: length-prefixed strings, no JSON.

The client side runs on the CLI's hot path before anything else is imported, and `json`
pulls in `re` and `enum` (~7 ms): plain `struct` frames cost nothing. A request is argv,
the forwarded environment (KEY=VALUE), the working directory and optional stdin; an answer
is the exit status, stdout and stderr.
"""

from __future__ import annotations

import struct

MAGIC = b"WW1"
_LEN = struct.Struct("!I")
_CODE = struct.Struct("!i")


def _pack(items: list[str]) -> bytes:
    out = [_LEN.pack(len(items))]
    for item in items:
        raw = item.encode("utf-8", "surrogateescape")
        out += [_LEN.pack(len(raw)), raw]
    return b"".join(out)


def _unpack(data: bytes, pos: int) -> tuple[list[str], int]:
    (count,) = _LEN.unpack_from(data, pos)
    pos += 4
    items = []
    for _ in range(count):
        (size,) = _LEN.unpack_from(data, pos)
        pos += 4
        items.append(data[pos:pos + size].decode("utf-8", "surrogateescape"))
        pos += size
    return items, pos


def encode_request(argv: list[str], env: dict[str, str], cwd: str, stdin: str | None) -> bytes:
    extra = [cwd] + ([stdin] if stdin is not None else [])
    return MAGIC + _pack(argv) + _pack([f"{k}={v}" for k, v in env.items()]) + _pack(extra)


def decode_request(data: bytes) -> tuple[list[str], dict[str, str], str, str | None]:
    if not data.startswith(MAGIC):
        raise ValueError("not a wirework request")
    argv, pos = _unpack(data, len(MAGIC))
    env_items, pos = _unpack(data, pos)
    extra, _ = _unpack(data, pos)
    env = dict(item.split("=", 1) for item in env_items if "=" in item)
    return argv, env, extra[0] if extra else "/", extra[1] if len(extra) > 1 else None


def encode_answer(code: int, stdout: str, stderr: str) -> bytes:
    return _CODE.pack(code) + _pack([stdout, stderr])


def decode_answer(data: bytes) -> tuple[int, str, str]:
    (code,) = _CODE.unpack_from(data, 0)
    (stdout, stderr), _ = _unpack(data, 4)
    return code, stdout, stderr

"""The store on etcd (v3 API through its HTTP gateway, client `etcd3gw`): a `ClusterStore`.

Same semantics as `SqliteStore` for every `Store` method, on etcd's own machinery:
- revisions are etcd's mod_revisions (a txn's changes share one); `Compare(key, 0)` holds when
  the key is absent (etcd compares an absent key's mod_revision as 0);
- `create` is one create-if-absent transaction; `txn` is one etcd transaction, all or nothing;
- keys live under a prefix (default `/wirework/`) so several clusters can share one etcd;
  `scan("")` sees this prefix only. Values are JSON (UTF-8).
Leases: `grant` (TTL rounded up to whole seconds, etcd's unit), `refresh` (one keep-alive),
`revoke`. Watches: `etcd_watch.EtcdWatch`, a background reader that survives a member going down.

Every call has a timeout (`timeout`, default 5 s) and fails over to the next endpoint; when
no endpoint answers it raises `StoreUnavailable` naming the endpoints and the fix.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

from wirework.errors import InvalidInput, LeaseExpired
from wirework.store.base import Compare, Delete, Entry, Op, Put
from wirework.store.etcd_conn import EtcdAccess, EtcdConnection
from wirework.store.etcd_watch import EtcdWatch

DEFAULT_PREFIX = "/wirework/"


class EtcdStore:
    def __init__(self, access: EtcdAccess, *, prefix: str = DEFAULT_PREFIX) -> None:
        if not prefix:
            raise InvalidInput(what="store prefix", value=prefix, why="give a non-empty key prefix, e.g. /wirework/")
        self.prefix = prefix
        self.conn = EtcdConnection(access)
        self._watches: list[EtcdWatch] = []

    # -- Store -------------------------------------------------------------------------------
    def get(self, key: str) -> Entry | None:
        answer = self.conn.call("/kv/range", {"key": self._key(key)})
        kvs = answer.get("kvs") or []
        return self._entry(kvs[0]) if kvs else None

    def scan(self, prefix: str) -> list[Entry]:
        start = self._raw(prefix)
        answer = self.conn.call("/kv/range", {"key": _b64(start), "range_end": _b64(range_end(start)),
                                              "sort_order": "ASCEND", "sort_target": "KEY"})
        return [self._entry(kv) for kv in answer.get("kvs") or []]

    def put(self, key: str, value: Any, *, lease: int = 0) -> int:
        # Repeating a put after a lost answer is harmless: the key ends with this value either way.
        answer = self.conn.call("/kv/put", self._put_request(Put(key, value, lease)))
        return int(answer["header"]["revision"])

    def create(self, key: str, value: Any, *, lease: int = 0) -> bool:
        return self.txn([Compare(key, 0)], [Put(key, value, lease)])

    def delete(self, key: str) -> bool:
        answer = self.conn.call("/kv/deleterange", {"key": self._key(key)}, conditional=True)
        return int(answer.get("deleted", 0)) > 0

    def txn(self, compares: list[Compare], ops: list[Op]) -> bool:
        request = {
            "compare": [{"key": self._key(c.key), "result": "EQUAL", "target": "MOD", "mod_revision": c.revision}
                        for c in compares],
            "success": [self._op(op) for op in ops],
        }
        answer = self.conn.call("/kv/txn", request, conditional=True)
        return bool(answer.get("succeeded", False))

    def close(self) -> None:
        for watch in self._watches:
            watch.cancel()
        self._watches.clear()
        self.conn.close()

    # -- ClusterStore ------------------------------------------------------------------------
    def grant(self, ttl: float) -> int:
        if ttl <= 0:
            raise InvalidInput(what="lease TTL", value=ttl, why="give a positive number of seconds")
        # A lease granted by a lost attempt is never used and simply expires.
        answer = self.conn.call("/lease/grant", {"TTL": math.ceil(ttl), "ID": 0})
        return int(answer["ID"])

    def refresh(self, lease: int) -> bool:
        answer = self.conn.call("/lease/keepalive", {"ID": lease})
        return int(answer.get("result", {}).get("TTL", 0)) > 0

    def revoke(self, lease: int) -> None:
        try:
            self.conn.call("/kv/lease/revoke", {"ID": lease})
        except LeaseExpired:
            pass  # unknown or already gone: nothing to end

    def revision(self) -> int:
        answer = self.conn.call("/kv/range", {"key": self._key(""), "count_only": True})
        return int(answer["header"]["revision"])

    def watch(self, prefix: str, start_revision: int) -> EtcdWatch:
        start = self._raw(prefix)
        if start_revision <= 0:
            start_revision = self.revision() + 1
        watch = EtcdWatch(self.conn, start, range_end(start), start_revision, strip=len(self.prefix.encode()))
        self._watches = [w for w in self._watches if not w.cancelled] + [watch]
        return watch

    # -- beyond the contract: maintenance ------------------------------------------------------
    def compact(self, revision: int) -> None:
        """Drop history before `revision` (watches from earlier revisions get StoreCompacted)."""
        self.conn.call("/kv/compaction", {"revision": revision, "physical": True})

    # -- encoding -----------------------------------------------------------------------------
    def _raw(self, key: str) -> bytes:
        return (self.prefix + key).encode()

    def _key(self, key: str) -> str:
        return _b64(self._raw(key))

    def _entry(self, kv: dict[str, Any]) -> Entry:
        key = base64.b64decode(kv["key"])[len(self.prefix.encode()):].decode()
        return Entry(key, json.loads(base64.b64decode(kv.get("value", ""))), int(kv["mod_revision"]))

    def _put_request(self, op: Put) -> dict[str, Any]:
        if op.value is None:
            raise InvalidInput(what="value of", value=op.key, why="None cannot be stored (a watch reports a deletion as None)")
        request: dict[str, Any] = {"key": self._key(op.key), "value": _b64(json.dumps(op.value, sort_keys=True).encode())}
        if op.lease:
            request["lease"] = op.lease
        return request

    def _op(self, op: Op) -> dict[str, Any]:
        if isinstance(op, Put):
            return {"request_put": self._put_request(op)}
        if isinstance(op, Delete):
            return {"request_delete_range": {"key": self._key(op.key)}}
        raise InvalidInput(what="transaction operation", value=repr(op), why="use store.base.Put or Delete")


def range_end(start: bytes) -> bytes:
    """The first key after every key that starts with `start` (etcd's prefix range end)."""
    trimmed = start.rstrip(b"\xff")
    if not trimmed:
        return b"\0"  # every key from start on
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()

"""A throwaway ClusterStore over a real etcd member (etcd3gw), and the member for the tests.

Only until the etcd branch lands `wirework.store.etcd` and its fixtures: then this file goes.
"""

from __future__ import annotations

import base64
import json
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from typing import Any

import requests
from etcd3gw.client import Etcd3Client

from wirework.errors import StoreCompacted, StoreUnavailable
from wirework.store.base import Compare, Delete, Entry, Event, Op, Put


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _unb64(text: str) -> str:
    return base64.b64decode(text).decode()


def _end(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class StubWatch:
    def __init__(self, client: Etcd3Client, prefix: str, strip: int, start: int) -> None:
        self.events: queue.Queue[Event | Exception] = queue.Queue()
        body = {"create_request": {"key": _b64(prefix), "range_end": _b64(_end(prefix)), "start_revision": start}}
        try:
            self.resp = client.session.post(client.get_url("/watch"), json=body, stream=True, timeout=(3, None))
        except requests.RequestException as exc:
            raise StoreUnavailable(f"etcd: {exc}") from None
        self.strip = strip
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        try:
            for line in self.resp.iter_lines():
                if not line:
                    continue
                result = json.loads(line).get("result", {})
                if result.get("compact_revision") and result.get("canceled"):
                    self.events.put(StoreCompacted("etcd compacted the watched revision"))
                    return
                for ev in result.get("events", []):
                    kv = ev["kv"]
                    value = json.loads(_unb64(kv["value"])) if ev.get("type") != "DELETE" and "value" in kv else None
                    self.events.put(Event(_unb64(kv["key"])[self.strip:], value, int(kv["mod_revision"])))
        except Exception as exc:
            self.events.put(StoreUnavailable(f"etcd watch ended: {exc}"))
            return
        self.events.put(StoreUnavailable("etcd watch stream ended"))

    def next(self, timeout: float) -> list[Event]:
        out: list[Event] = []
        try:
            item = self.events.get(timeout=timeout)
            while True:
                if isinstance(item, Exception):
                    raise item
                out.append(item)
                item = self.events.get_nowait()
        except queue.Empty:
            return out

    def cancel(self) -> None:
        # Closing the response from here would wait for the reading thread: shut the socket.
        try:
            sock = socket.fromfd(self.resp.raw._fp.fileno(), socket.AF_INET, socket.SOCK_STREAM)
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        except Exception:
            pass


class StubEtcdStore:
    def __init__(self, port: int, prefix: str = "/wirework/") -> None:
        self.client = Etcd3Client("127.0.0.1", port, timeout=3, api_path="/v3/")
        self.prefix = prefix
        self.requests = 0

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        self.requests += 1
        try:
            return self.client.post(self.client.get_url(path), json=body)
        except Exception as exc:
            raise StoreUnavailable(f"cannot reach etcd at 127.0.0.1:{self.client.port}: {exc}") from None

    def _entry(self, kv: dict[str, Any]) -> Entry:
        return Entry(_unb64(kv["key"])[len(self.prefix):], json.loads(_unb64(kv.get("value", ""))), int(kv["mod_revision"]))

    def get(self, key: str) -> Entry | None:
        kvs = self._post("/kv/range", {"key": _b64(self.prefix + key)}).get("kvs", [])
        return self._entry(kvs[0]) if kvs else None

    def scan(self, prefix: str) -> list[Entry]:
        full = self.prefix + prefix
        return [self._entry(kv) for kv in self._post("/kv/range", {"key": _b64(full), "range_end": _b64(_end(full))})
                .get("kvs", [])]

    def put(self, key: str, value: Any) -> int:
        self.txn([], [Put(key, value)])
        return self.revision()

    def create(self, key: str, value: Any) -> bool:
        return self.txn([Compare(key, 0)], [Put(key, value)])

    def delete(self, key: str) -> bool:
        return self.txn([], [Delete(key)])

    def txn(self, compares: list[Compare], ops: list[Op]) -> bool:
        cmp = [{"key": _b64(self.prefix + c.key), "result": "EQUAL", "target": "MOD", "mod_revision": c.revision}
               for c in compares]
        success = []
        for op in ops:
            if isinstance(op, Put):
                put: dict[str, Any] = {"key": _b64(self.prefix + op.key), "value": _b64(json.dumps(op.value, sort_keys=True))}
                if op.lease:
                    put["lease"] = op.lease
                success.append({"request_put": put})
            else:
                success.append({"request_delete_range": {"key": _b64(self.prefix + op.key)}})
        return bool(self._post("/kv/txn", {"compare": cmp, "success": success, "failure": []}).get("succeeded"))

    def close(self) -> None:
        self.client.session.close()

    def grant(self, ttl: float) -> int:
        return int(self._post("/lease/grant", {"TTL": max(1, round(ttl)), "ID": 0})["ID"])

    def refresh(self, lease: int) -> bool:
        result = self._post("/lease/keepalive", {"ID": lease}).get("result", {})
        return int(result.get("TTL", -1)) > 0

    def revoke(self, lease: int) -> None:
        try:
            self._post("/kv/lease/revoke", {"ID": lease})
        except StoreUnavailable:
            raise
        except Exception:
            pass

    def revision(self) -> int:
        return int(self._post("/kv/range", {"key": _b64(self.prefix), "count_only": True})["header"]["revision"])

    def watch(self, prefix: str, start_revision: int) -> StubWatch:
        self.requests += 1
        return StubWatch(self.client, self.prefix + prefix, len(self.prefix), start_revision)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EtcdMember:
    """One etcd member on loopback, data on tmpfs, fast elections (ENVIRONMENT.md)."""

    def __init__(self) -> None:
        self.port, self.peer = free_port(), free_port()
        self.dir = tempfile.mkdtemp(prefix="wwetcd", dir="/dev/shm")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> EtcdMember:
        peer = f"http://127.0.0.1:{self.peer}"
        client = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            ["etcd", "--name", "n1", "--data-dir", self.dir, "--listen-client-urls", client,
             "--advertise-client-urls", client, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"n1={peer}", "--heartbeat-interval", "10", "--election-timeout", "100"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{client}/health", timeout=1).json().get("health") == "true":
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError("etcd did not become healthy")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

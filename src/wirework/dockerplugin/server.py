"""The plugin's socket: HTTP/1.1 + JSON on `/run/docker/plugins/NAME.sock`, served in threads.

    server = PluginServer("wirework", make_session, log=print)
    server.start()      # binds the socket (0600: Docker runs as root), starts the worker
    ...
    server.stop()       # removes the socket; Docker retries its calls until one answers again

Connections are read by a thread each (Docker keeps several open), but every call that needs
the host runs on one worker thread that owns the `Wirework` session: calls are applied one at
a time, in arrival order, and netlink sockets stay with the thread that opened them. The worker
also reconciles with Docker (`resync`) when the server starts, every `resync_every` seconds, and
when the service's Docker event follower asks (dockerd came back); Docker's view is read on a
thread of its own, never on the worker, so a Docker call never waits on a plugin call.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import queue
import socketserver
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from wirework.dockerplugin import protocol

PLUGIN_DIR = "/run/docker/plugins"
MAX_BODY = 1 << 20
READ_TIMEOUT = 30.0
CONTENT_TYPE = "application/vnd.docker.plugins.v1+json"

Log = Callable[[str], None]


class PluginServer:
    def __init__(self, name: str, make_session: Callable[[], Any], *, log: Log = lambda _: None,
                 directory: str = PLUGIN_DIR, resync_every: float = 60.0, grace: float | None = None,
                 trace: bool = False) -> None:
        self.name = name
        self.socket_path = os.path.join(directory, f"{name}.sock")
        self.make_session = make_session
        self.log = log
        self.resync_every = resync_every
        self.grace = grace
        self.trace = trace  # log every call and answer (WIREWORK_DOCKER_TRACE=1 in the service)
        self._jobs: queue.Queue[tuple[Callable[[Any], Any], Future[Any]] | None] = queue.Queue()
        self._events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._stopping = threading.Event()
        self._server: _UnixHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        os.makedirs(os.path.dirname(self.socket_path), mode=0o755, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)  # a socket a killed service left: nobody answers on it
        old = os.umask(0o177)
        try:
            self._server = _UnixHTTPServer(self.socket_path, self)
        finally:
            os.umask(old)
        for target, name in ((self._server.serve_forever, "plugin-http"), (self._work, "plugin-worker"),
                             (self._follow, "plugin-events")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        self._events.put({"Type": "resync"})

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.socket_path)
            self._server.shutdown()
            self._server.server_close()
        self._jobs.put(None)
        self._events.put(None)
        for thread in self._threads:
            thread.join(10)

    # -- calls -----------------------------------------------------------------------------
    def call(self, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """Answer one plugin call (None: no such method). Runs on the worker unless static."""
        if not protocol.known(path):
            return None
        if path in protocol.STATIC:
            return protocol.handle(None, path, body)
        began = time.perf_counter()
        try:
            answer: dict[str, Any] = self.submit(lambda ww: protocol.handle(ww, path, body)).result()
        except Exception as exc:  # a defect, not a refusal: say it in one line and in the log
            self.log(f"plugin {path}: {type(exc).__name__}: {exc}")
            return protocol.error_answer(path, f"internal error: {type(exc).__name__}: {exc}")
        if self.trace:
            took = (time.perf_counter() - began) * 1000
            self.log(f"plugin {path} ({took:.1f} ms) {json.dumps(body, sort_keys=True)} -> {json.dumps(answer, sort_keys=True)}")
        elif "Err" in answer or "Error" in answer:
            self.log(f"plugin {path}: {answer.get('Err') or answer.get('Error')}")
        return answer

    def submit(self, job: Callable[[Any], Any]) -> Future[Any]:
        """Run job(session) on the worker thread."""
        future: Future[Any] = Future()
        if self._stopping.is_set():
            future.set_exception(RuntimeError("the plugin is stopping"))
        else:
            self._jobs.put((job, future))
        return future

    def _work(self) -> None:
        session = None
        try:
            while True:
                item = self._jobs.get()
                if item is None:
                    return
                job, future = item
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    if session is None:
                        session = self.make_session()
                    future.set_result(job(session))
                except BaseException as exc:
                    future.set_exception(exc)
        finally:
            if session is not None:
                session.close()

    # -- reconciling with Docker -------------------------------------------------------------
    def docker_event(self, event: dict[str, Any]) -> None:
        """A listener for the service's Docker event follower (called on its thread)."""
        kind, action = event.get("Type"), event.get("Action")
        if kind == "resync" or (kind == "network" and action in ("create", "connect")):
            self._events.put(event)

    def _follow(self) -> None:
        while not self._stopping.is_set():
            try:
                event = self._events.get(timeout=self.resync_every)
            except queue.Empty:
                event = {"Type": "resync"}
            if event is None:
                return
            try:
                self._reconcile(event)
            except Exception as exc:
                self.log(f"plugin resync: {type(exc).__name__}: {exc}")

    def _reconcile(self, event: dict[str, Any]) -> None:
        actor = event.get("Actor") or {}
        if event.get("Type") == "network":
            attributes = actor.get("Attributes") or {}
            if attributes.get("type") != self.name:
                return
            ids = [str(actor.get("ID"))]
            if event.get("Action") == "create":
                self.submit(lambda ww: ww.docker_network_named(ids[0], str(attributes.get("name") or ""))).result()
                return
        else:
            ids = self.submit(lambda ww: ww.docker_network_ids()).result()
        if not ids:
            return
        view = self.submit(lambda ww: ww).result().docker_view(ids)  # Docker reads, on this thread
        if view is None:
            return  # Docker did not answer: decide nothing
        for line in self.submit(lambda ww: ww.docker_resync(view, grace=self.grace)).result():
            self.log(f"plugin resync: {line}")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _UnixHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(READ_TIMEOUT)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(413, {"Err": f"wirework: request larger than {MAX_BODY} bytes"})
            return
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            self._send(400, {"Err": f"wirework: the request is not JSON: {exc}"})
            return
        answer = self.server.plugin.call(self.path, body if isinstance(body, dict) else {})
        if answer is None:
            self._send(404, {"Err": f"wirework: {self.path} is not implemented"})
        else:
            self._send(200, answer)

    def _send(self, status: int, answer: dict[str, Any]) -> None:
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def address_string(self) -> str:
        return "docker"  # a unix socket has no peer address

    def log_message(self, format: str, *args: Any) -> None:
        pass  # calls are logged by PluginServer when they fail


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, plugin: PluginServer) -> None:
        self.plugin = plugin
        super().__init__(path, _Handler)

    def get_request(self) -> tuple[Any, Any]:
        conn, _ = self.socket.accept()
        return conn, ("docker", 0)  # BaseHTTPRequestHandler wants a (host, port) address

"""A real MLflow tracking server for tests (SQLite backend, loopback), a proxy in front of it that
can fail chosen requests, and a helper that registers a model with versions."""

from __future__ import annotations

import http.client
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from slo_monitor.local_mlflow import LocalMlflowServer


MlflowServer = LocalMlflowServer   # the demo's server: SQLite, loopback, its own process group


def register_model(client: Any, name: str | None = None, versions: int = 5, champion: str | None = None) -> str:
    """A registered model with `versions` READY versions (sources in one run); alias champion on
    `champion` (default: the newest). Returns the name."""
    name = name or f"model-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    experiment = client.create_experiment(f"exp-{name}")
    run = client.create_run(experiment)
    for _ in range(versions):
        client.create_model_version(name, source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    client.set_registered_model_alias(name, "champion", champion or str(versions))
    return name


@dataclass
class Fault:
    """Fail requests whose method and path contain the given text: `how` is an HTTP status
    (answered without forwarding), "drop" (closed without forwarding) or "forward_drop"
    (forwarded to MLflow, then closed without the answer: applied, but the client cannot know)."""

    method: str
    path: str
    how: int | str
    count: int | None = None         # None: until cleared
    body: str | None = None          # only requests whose body contains this


@dataclass
class _ProxyState:
    upstream: tuple[str, int]
    faults: list[Fault] = field(default_factory=list)
    seen: list[tuple[str, str, str]] = field(default_factory=list)   # (method, path, what happened)
    lock: threading.Lock = field(default_factory=threading.Lock)


class FaultyProxy:
    """An HTTP proxy on loopback in front of the MLflow server; `fail(...)` injects faults."""

    def __init__(self, upstream_url: str):
        host, port = upstream_url.removeprefix("http://").split(":")
        self.state = _ProxyState((host, int(port)))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _ProxyHandler)
        self._server.daemon_threads = True
        self._server.state = self.state  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> FaultyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(self, method: str, path: str, how: int | str, count: int | None = None, body: str | None = None) -> None:
        with self.state.lock:
            self.state.faults.append(Fault(method, path, how, count, body))

    def heal(self) -> None:
        with self.state.lock:
            self.state.faults.clear()

    def seen(self) -> list[tuple[str, str, str]]:
        with self.state.lock:
            return list(self.state.seen)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle()

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle()

    def _handle(self) -> None:
        state: _ProxyState = self.server.state  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fault = None
        with state.lock:
            for f in state.faults:
                if (f.method == self.command and f.path in self.path and (f.count is None or f.count > 0)
                        and (f.body is None or f.body in body.decode("utf-8", "replace"))):
                    fault = f
                    if f.count is not None:
                        f.count -= 1
                    break
            state.seen.append((self.command, self.path, "fault" if fault else "forwarded"))
        if fault is not None and fault.how == "drop":
            self.close_connection = True
            return
        if fault is not None and isinstance(fault.how, int):
            self._send(fault.how, b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "injected"}', {})
            return
        connection = http.client.HTTPConnection(*state.upstream, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        connection.request(self.command, self.path, body=body or None, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        connection.close()
        if fault is not None and fault.how == "forward_drop":
            self.close_connection = True
            return
        self._send(response.status, payload, {"Content-Type": response.getheader("Content-Type", "application/json")})

    def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

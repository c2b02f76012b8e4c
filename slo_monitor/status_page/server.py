"""The status page's HTTP server: the standard library's threading server, read-only.

Routes: `/` (the page), `/api/status` (the same view as JSON), `/metrics` (this process's
Prometheus registry), `/healthz`, `/reports/<file>.html` (diagnostic reports from
`--reports-dir`). Only GET and HEAD; nothing writes. Binds to loopback unless told otherwise.
Responses carry a Content-Security-Policy that allows no script at all.
"""

from __future__ import annotations

import logging
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from slo_monitor.status_page.feed import FeedTopics, StatusFeed
from slo_monitor.status_page.render import render_page
from slo_monitor.status_page.view import StatusView

log = logging.getLogger(__name__)

REPORT_NAME = re.compile(r"^/reports/([A-Za-z0-9][A-Za-z0-9._-]{0,200}\.html)$")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_HEAD(self) -> None:  # noqa: N802 - the standard library's naming
        self._serve(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        path = self.path.split("?", 1)[0]
        page = self.server.page
        if path == "/":
            body, kind = render_page(page.view.snapshot(), title=page.title).encode(), "text/html; charset=utf-8"
        elif path == "/api/status":
            body, kind = orjson.dumps(page.view.snapshot()), "application/json"
        elif path == "/metrics":
            body, kind = generate_latest(REGISTRY), CONTENT_TYPE_LATEST
        elif path == "/healthz":
            ok = page.healthy()
            body = orjson.dumps({"status": "ok" if ok else "starting", "feed_assigned": page.feed.assigned.is_set()
                                 if page.feed else None, "counts": dict(page.view.counts)})
            self._send(HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE, body, "application/json", head)
            return
        elif path == "/favicon.ico":
            self._send(HTTPStatus.NO_CONTENT, b"", "text/plain", head)
            return
        elif (match := REPORT_NAME.match(path)) and page.reports_dir is not None:
            file = page.reports_dir / match.group(1)
            if not file.is_file():
                self._send(HTTPStatus.NOT_FOUND, b"no such report\n", "text/plain; charset=utf-8", head)
                return
            body, kind = file.read_bytes(), "text/html; charset=utf-8"
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", head)
            return
        self._send(HTTPStatus.OK, body, kind, head)

    def _send(self, status: HTTPStatus, body: bytes, kind: str, head: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the standard library's signature
        log.debug("status page: " + format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    page: StatusPage


class StatusPage:
    """The view, its Kafka feed (optional, for tests that fill the view) and the HTTP server."""

    def __init__(self, view: StatusView | None = None, feed: StatusFeed | None = None, *, host: str = "127.0.0.1",
                 port: int = 0, reports_dir: Path | None = None, title: str = "slo-monitor status") -> None:
        self.view = view or StatusView()
        self.feed = feed
        self.reports_dir = reports_dir.resolve() if reports_dir is not None else None
        self.title = title
        self._server = _Server((host, port), _Handler)
        self._server.page = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="status-page-http", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        return f"http://{shown}:{port}/"

    def healthy(self) -> bool:
        return self.feed is None or self.feed.assigned.is_set()

    def start(self) -> StatusPage:
        if self.feed is not None:
            self.feed.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self.feed is not None:
            self.feed.stop()

    # ServiceThread-like interface for `slo-monitor run`'s list of background services
    def request_stop(self) -> None:
        self.stop()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)


def start_status_page(bootstrap_servers: str, topics: FeedTopics = FeedTopics(), *, host: str = "127.0.0.1",
                      port: int = 9465, reports_dir: Path | None = None, history: float = 24 * 3600.0,
                      kafka_config: dict[str, str] | None = None, slos: frozenset[str] | None = None) -> StatusPage:
    """A status page fed from Kafka, serving on `host:port` (0: any free port); `slos`: the SLOs
    whose status it shows (`StatusView`)."""
    view = StatusView(slos=slos)
    feed = StatusFeed(view, bootstrap_servers, topics, history=history, kafka_config=kafka_config)
    return StatusPage(view, feed, host=host, port=port, reports_dir=reports_dir).start()

"""A local PagerDuty Events API v2 for tests and the demo.

It behaves like ``events.pagerduty.com`` where the responder can tell: HTTPS (the official
client refuses plain HTTP), ``POST /v2/enqueue`` validated against the documented contract
(remediation/events_contract.py) with 202, 400 and 429 answers shaped like PagerDuty's, alerts
kept per integration key and dedup key (a trigger on an open alert adds to it, a trigger after a
resolve opens a new one, resolve/acknowledge of an unknown key is accepted and dropped), and an
optional per-key rate limit over a sliding 60 seconds. It can also be told to misbehave: answer
a status (500, 429, ...) or drop connections for a while or for N requests, or hold requests
(then drop or process them) so a test can kill the sender mid-request.

In-process: ``with LocalEventsApi() as api: ...`` (``api.url``, ``api.ca_file``). As a program:
``python -m remediation.receiver --port 8443`` prints the two environment variables that point
the responder at it, and serves until SIGTERM/SIGINT; ``GET /_receiver/incidents`` and
``/_receiver/requests`` and ``/_receiver/changes`` (change events, ``POST /v2/change/enqueue``)
show what it holds, ``POST /_receiver/fail`` ``{"status": 500,
"seconds": 120}``, ``/_receiver/hold``, ``/_receiver/release`` and ``/_receiver/reset`` steer it.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

from remediation.change_event_contract import validate_change_event
from remediation.events_contract import MAX_EVENT_BYTES, validate_event

log = logging.getLogger(__name__)

DROP = 0  # a "status" that closes the connection without an answer (a network error)


@dataclass
class Incident:
    """An alert as PagerDuty would keep it (one per integration key, dedup key and episode)."""

    number: int
    service: str
    dedup_key: str
    status: str                      # triggered | acknowledged | resolved
    severity: str
    summary: str
    severities: list[str] = field(default_factory=list)   # severity of every trigger, in order
    actions: list[str] = field(default_factory=list)      # every accepted event_action, in order
    custom_details: dict[str, Any] = field(default_factory=dict)
    links: list[dict[str, Any]] = field(default_factory=list)
    timestamp: str | None = None


@dataclass
class Received:
    """One request to /v2/enqueue and the answer given (no routing key kept)."""

    seq: int
    status: int                      # 0: connection dropped
    service: str | None
    event_action: str | None
    dedup_key: str | None
    severity: str | None
    errors: list[str] = field(default_factory=list)
    held: bool = False
    at: float = field(default_factory=time.monotonic)   # when it arrived (monotonic clock)


@dataclass
class ChangeEvent:
    """One change event accepted at /v2/change/enqueue (service named, routing key not kept)."""

    seq: int
    service: str
    summary: str
    source: str | None
    timestamp: str | None
    custom_details: dict[str, Any] = field(default_factory=dict)
    links: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Failure:
    status: int
    until: float | None
    remaining: int | None
    dedup_key: str | None

    def applies(self, dedup_key: str | None, now: float) -> bool:
        if self.until is not None and now >= self.until:
            return False
        if self.remaining is not None and self.remaining <= 0:
            return False
        return self.dedup_key is None or self.dedup_key == dedup_key


class EventsApiState:
    """The receiver's memory and rules, independent of HTTP (thread-safe)."""

    def __init__(self, rate_limit_per_minute: int | None = None, services: dict[str, str] | None = None):
        self.rate_limit_per_minute = rate_limit_per_minute
        self._services = dict(services or {})
        self._lock = threading.Lock()
        self._released = threading.Event()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.incidents: list[Incident] = []
            self.requests: list[Received] = []
            self.changes: list[ChangeEvent] = []
            self._open: dict[tuple[str, str], Incident] = {}
            self._failures: list[_Failure] = []
            self._hold_until: float | None = None
            self._hold_then = "drop"
            self._sent: dict[str, deque[float]] = {}
        self._released.set()

    # --- steering ----------------------------------------------------------------------------

    def fail(self, status: int, seconds: float | None = None, count: int | None = None,
             dedup_key: str | None = None) -> None:
        """Answer `status` (0: drop the connection) for `seconds` and/or `count` requests,
        to every event or only to `dedup_key`'s."""
        until = time.monotonic() + seconds if seconds is not None else None
        with self._lock:
            self._failures.append(_Failure(status, until, count, dedup_key))

    def heal(self) -> None:
        with self._lock:
            self._failures.clear()

    def hold(self, seconds: float = 3600.0, then: str = "drop") -> None:
        """Hold requests unanswered until `release()` or `seconds` pass, then drop or process them."""
        if then not in ("drop", "process"):
            raise ValueError("then must be 'drop' or 'process'")
        with self._lock:
            self._hold_until, self._hold_then = time.monotonic() + seconds, then
            self._released.clear()

    def release(self) -> None:
        with self._lock:
            self._hold_until = None
        self._released.set()

    def service_of(self, routing_key: str) -> str:
        return self._services.get(routing_key) or "svc-" + hashlib.sha256(routing_key.encode()).hexdigest()[:8]

    # --- serving -----------------------------------------------------------------------------

    def handle(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """Answer one /v2/enqueue request body: (status, JSON answer); status 0 = drop."""
        event: Any = None
        try:
            event = orjson.loads(body) if len(body) <= MAX_EVENT_BYTES else None
        except orjson.JSONDecodeError:
            pass
        fields = _fields(event)
        self._wait_if_held(fields)
        now = time.monotonic()
        with self._lock:
            failure = next((f for f in self._failures if f.applies(fields["dedup_key"], now)), None)
            if failure is not None:
                if failure.remaining is not None:
                    failure.remaining -= 1
                self._record(failure.status, fields, event)
                return failure.status, {"status": "error", "message": "simulated failure"}
            if len(body) > MAX_EVENT_BYTES:
                errors = [f"Event object is larger than {MAX_EVENT_BYTES} bytes"]
            elif event is None:
                errors = ["JSON parse error"]
            else:
                errors = validate_event(event)
            if errors:
                self._record(400, fields, event, errors)
                return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
            if not self._within_rate_limit(event["routing_key"], now):
                self._record(429, fields, event)
                return 429, {"status": "throttle event",
                             "message": "Requests for this service are arriving too quickly. Please retry later."}
            dedup_key = self._apply(event)
            self._record(202, fields | {"dedup_key": dedup_key}, event)
            return 202, {"status": "success", "message": "Event processed", "dedup_key": dedup_key}

    def handle_change(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """Answer one /v2/change/enqueue request body: validated, kept, 202; or 400."""
        try:
            event: Any = orjson.loads(body) if len(body) <= MAX_EVENT_BYTES else None
        except orjson.JSONDecodeError:
            event = None
        errors = ["JSON parse error"] if event is None else validate_change_event(event)
        if errors:
            return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
        payload = event["payload"]
        with self._lock:
            self.changes.append(ChangeEvent(len(self.changes) + 1, self.service_of(event["routing_key"]),
                                            payload["summary"], payload.get("source"), payload.get("timestamp"),
                                            payload.get("custom_details") or {}, event.get("links") or []))
        return 202, {"status": "success", "message": "Change event processed"}

    def _wait_if_held(self, fields: dict[str, Any]) -> None:
        with self._lock:
            until, then = self._hold_until, self._hold_then
            if until is None or time.monotonic() >= until:
                return
            self.requests.append(Received(len(self.requests) + 1, -1, None, fields["event_action"],
                                          fields["dedup_key"], fields["severity"], held=True))
        self._released.wait(max(0.0, until - time.monotonic()))
        if then == "drop":
            raise _DropConnection()

    def _within_rate_limit(self, routing_key: str, now: float) -> bool:
        if not self.rate_limit_per_minute:
            return True
        sent = self._sent.setdefault(routing_key, deque())
        while sent and sent[0] <= now - 60.0:
            sent.popleft()
        if len(sent) >= self.rate_limit_per_minute:
            return False
        sent.append(now)
        return True

    def _apply(self, event: dict[str, Any]) -> str:
        service = self.service_of(event["routing_key"])
        action = event["event_action"]
        dedup_key = event.get("dedup_key") or hashlib.sha256(orjson.dumps(event)).hexdigest()[:32]
        incident = self._open.get((service, dedup_key))
        if action == "trigger":
            payload = event["payload"]
            if incident is None:
                incident = Incident(len(self.incidents) + 1, service, dedup_key, "triggered",
                                    payload["severity"], payload["summary"])
                self.incidents.append(incident)
                self._open[(service, dedup_key)] = incident
            incident.severity, incident.summary = payload["severity"], payload["summary"]
            incident.severities.append(payload["severity"])
            incident.custom_details = payload.get("custom_details", {})
            incident.links = event.get("links", [])
            incident.timestamp = payload.get("timestamp")
            incident.actions.append("trigger")
        elif incident is not None:  # acknowledge or resolve of an open alert; else dropped
            incident.actions.append(action)
            incident.status = "acknowledged" if action == "acknowledge" else "resolved"
            if action == "resolve":
                del self._open[(service, dedup_key)]
        return dedup_key

    def _record(self, status: int, fields: dict[str, Any], event: Any, errors: list[str] | None = None) -> None:
        key = event.get("routing_key") if isinstance(event, dict) else None
        service = self.service_of(key) if isinstance(key, str) and key else None
        self.requests.append(Received(len(self.requests) + 1, status, service, fields["event_action"],
                                      fields["dedup_key"], fields["severity"], errors or []))

    # --- reading (copies, safe across threads) ---------------------------------------------

    def snapshot_incidents(self) -> list[Incident]:
        with self._lock:
            return [Incident(**{**asdict(i)}) for i in self.incidents]

    def snapshot_requests(self) -> list[Received]:
        with self._lock:
            return [Received(**asdict(r)) for r in self.requests]

    def snapshot_changes(self) -> list[ChangeEvent]:
        with self._lock:
            return [ChangeEvent(**asdict(c)) for c in self.changes]


class _DropConnection(Exception):
    """Close the connection without answering."""


def _fields(event: Any) -> dict[str, Any]:
    if not isinstance(event, dict):
        return {"event_action": None, "dedup_key": None, "severity": None}
    payload = event.get("payload") if isinstance(event.get("payload"), dict) else {}
    return {"event_action": event.get("event_action"), "dedup_key": event.get("dedup_key"),
            "severity": payload.get("severity")}


# --- HTTP ------------------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 120

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.do_handshake()
        except (ssl.SSLError, OSError):
            self.close_connection = True

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        state = self.server.state
        if self.path == "/v2/enqueue":
            try:
                status, answer = state.handle(body)
            except _DropConnection:
                status, answer = DROP, {}
            if status == DROP:
                self.close_connection = True
                return
            self._answer(status, answer)
        elif self.path == "/v2/change/enqueue":
            self._answer(*state.handle_change(body))
        elif self.path.startswith("/_receiver/"):
            self._control(self.path.removeprefix("/_receiver/"), orjson.loads(body) if body else {})
        else:
            self._answer(404, {"status": "not found", "message": self.path})

    def do_GET(self) -> None:  # noqa: N802
        state = self.server.state
        if self.path == "/_receiver/incidents":
            self._answer(200, {"incidents": [asdict(i) for i in state.snapshot_incidents()]})
        elif self.path == "/_receiver/requests":
            self._answer(200, {"requests": [asdict(r) for r in state.snapshot_requests()]})
        elif self.path == "/_receiver/changes":
            self._answer(200, {"changes": [asdict(c) for c in state.snapshot_changes()]})
        else:
            self._answer(404, {"status": "not found", "message": self.path})

    def _control(self, command: str, args: dict[str, Any]) -> None:
        state = self.server.state
        try:
            if command == "fail":
                state.fail(int(args.get("status", 500)), args.get("seconds"), args.get("count"), args.get("dedup_key"))
            elif command == "heal":
                state.heal()
            elif command == "hold":
                state.hold(float(args.get("seconds", 3600)), args.get("then", "drop"))
            elif command == "release":
                state.release()
            elif command == "reset":
                state.reset()
            else:
                self._answer(404, {"status": "unknown command", "message": command})
                return
        except (TypeError, ValueError) as error:
            self._answer(400, {"status": "bad request", "message": str(error)})
            return
        self._answer(200, {"status": "ok"})

    def _answer(self, status: int, answer: dict[str, Any]) -> None:
        body = orjson.dumps(answer)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class signature
        log.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: EventsApiState

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended abruptly", client_address)


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1 and localhost, made with the openssl command."""
    cert, key = directory / "receiver-cert.pem", directory / "receiver-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "30",
         "-subj", "/CN=slo-monitor local PagerDuty receiver",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )
    return cert, key


class LocalEventsApi:
    """The receiver on a loopback port, served from a background thread."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", rate_limit_per_minute: int | None = None,
                 services: dict[str, str] | None = None, cert_dir: Path | None = None):
        self.state = EventsApiState(rate_limit_per_minute, services)
        self._tmp = tempfile.TemporaryDirectory(prefix="pd-receiver-") if cert_dir is None else None
        directory = Path(self._tmp.name) if self._tmp else Path(cert_dir)
        directory.mkdir(parents=True, exist_ok=True)
        cert, key = directory / "receiver-cert.pem", directory / "receiver-key.pem"
        if not (cert.exists() and key.exists()):
            cert, key = self_signed_certificate(directory)
        self.ca_file = str(cert)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._server = _Server((host, port), _Handler)
        self._server.state = self.state
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True,
                                                  do_handshake_on_connect=False)
        self.host, self.port = host, self._server.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment that points the responder here."""
        return {"PAGERDUTY_EVENTS_URL": self.url, "PAGERDUTY_CA_BUNDLE": self.ca_file}

    def start(self) -> LocalEventsApi:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="pd-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.state.release()
        self._server.shutdown()
        self._server.server_close()
        if self._tmp:
            self._tmp.cleanup()

    def __enter__(self) -> LocalEventsApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # shortcuts for tests
    def fail(self, status: int, seconds: float | None = None, count: int | None = None,
             dedup_key: str | None = None) -> None:
        self.state.fail(status, seconds, count, dedup_key)

    def incidents(self) -> list[Incident]:
        return self.state.snapshot_incidents()

    def requests(self) -> list[Received]:
        return self.state.snapshot_requests()

    def changes(self) -> list[ChangeEvent]:
        return self.state.snapshot_changes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m remediation.receiver",
                                     description="Local PagerDuty Events API v2 for tests and the demo")
    parser.add_argument("--port", type=int, default=8443, help="port (0: any free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--rate-limit", type=int, default=120,
                        help="events per minute per routing key before 429 (0: none; PagerDuty: about 120)")
    parser.add_argument("--cert-dir", type=Path, default=None,
                        help="keep the self-signed certificate here (default: a temporary directory)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    api = LocalEventsApi(args.port, args.host, args.rate_limit or None, cert_dir=args.cert_dir)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with api:
        for name, value in api.env().items():
            print(f"{name}={value}", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The status page's own bounded picture of the monitor, built from its output topics.

Pure and thread-safe: the feed (feed.py) applies records from `slo-status`, `slo-alerts` and
`remediation-actions`; the server (server.py) reads `snapshot()`. Memory is bounded whatever
the topics hold: so many points per key, so many keys, alert events and actions (the oldest go
first; keys beyond the limit are counted, not kept).
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from schemas.timestamps import parse_event_time

OPENING_ACTIONS = ("trigger", "escalate")
REPORT_ACTION = "diagnostic_report"


@dataclass(frozen=True)
class Limits:
    points_per_key: int = 720      # 12 h of one-minute evaluations
    keys: int = 500
    alert_events: int = 200
    actions: int = 200


@dataclass(frozen=True, slots=True)
class Point:
    event_time: float
    estimate: float | None
    lower: float | None
    upper: float | None
    state: str
    labels: int


def status_key(record: dict[str, Any]) -> str:
    """The CONTRACT's key: `<slo>/<model_id>[/<segment>]`.

    >>> status_key({"slo": "p", "model_id": "m", "segment": None})
    'p/m'
    >>> status_key({"slo": "p", "model_id": "m", "segment": "country=US"})
    'p/m/country=US'
    """
    parts = [str(record["slo"]), str(record["model_id"])]
    if record.get("segment"):
        parts.append(str(record["segment"]))
    return "/".join(parts)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class StatusView:
    """What the page shows; `apply_*` raise ValueError on a record they cannot use.

    `slos` names the SLOs the monitor evaluates now: status records of any other SLO (one since
    removed from the SLO file, whose history is still in `slo-status`) are counted, not shown.
    Its alert events stay: they are history, and an alert still open at PagerDuty is still open.
    None shows every SLO the topic holds.
    """

    def __init__(self, limits: Limits = Limits(), slos: frozenset[str] | None = None) -> None:
        self.limits = limits
        self.slos = slos
        self._lock = threading.Lock()
        self._latest: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._points: dict[str, deque[Point]] = {}
        self._open: dict[str, dict[str, Any]] = {}
        self._alert_events: deque[dict[str, Any]] = deque(maxlen=limits.alert_events)
        self._alert_ids: set[tuple] = set()
        self._actions: deque[dict[str, Any]] = deque(maxlen=limits.actions)
        self._reports: OrderedDict[str, str] = OrderedDict()   # alert_id -> report file name
        self.counts: Counter[str] = Counter()

    # --- records in -------------------------------------------------------------------------

    def apply_status(self, record: Any) -> None:
        if not isinstance(record, dict) or not {"slo", "model_id", "event_time", "state"} <= record.keys():
            raise ValueError("slo-status record lacks slo, model_id, event_time or state")
        if self.slos is not None and record["slo"] not in self.slos:
            with self._lock:
                self.counts["status_of_other_slos"] += 1
            return
        key = status_key(record)
        point = Point(parse_event_time(record["event_time"]), _number(record.get("estimate")),
                      _number(record.get("lower")), _number(record.get("upper")), str(record["state"]),
                      int(record.get("labels") or 0))
        with self._lock:
            if key not in self._latest and len(self._latest) >= self.limits.keys:
                self.counts["keys_dropped"] += 1
                return
            points = self._points.setdefault(key, deque(maxlen=self.limits.points_per_key))
            if points and point.event_time < points[-1].event_time:
                self.counts["status_out_of_order"] += 1   # a replayed epoch: keep the newest view
                return
            if points and point.event_time == points[-1].event_time:
                points.pop()
            points.append(point)
            self._latest[key] = record
            self.counts["status"] += 1

    def apply_alert(self, record: Any) -> None:
        if not isinstance(record, dict) or not {"alert_id", "action", "slo", "model_id"} <= record.keys():
            raise ValueError("slo-alerts record lacks alert_id, action, slo or model_id")
        key = record.get("dedup_key") or status_key(record)
        identity = (record["alert_id"], record["action"], record.get("severity"), record.get("event_time"))
        with self._lock:
            if identity in self._alert_ids:            # output is at least once: a repeat says nothing new
                self.counts["alerts_repeated"] += 1
                return
            self._alert_ids.add(identity)
            if len(self._alert_ids) > 4 * self.limits.alert_events:
                self._alert_ids = {(e["alert_id"], e["action"], e.get("severity"), e.get("event_time"))
                                   for e in self._alert_events}
            if record["action"] in OPENING_ACTIONS:
                self._open[str(key)] = record
            elif record["action"] == "resolve":
                self._open.pop(str(key), None)
            self._alert_events.append(record)
            self.counts["alerts"] += 1

    def apply_action(self, record: Any) -> None:
        if not isinstance(record, dict) or "action" not in record:
            raise ValueError("remediation-actions record lacks action")
        with self._lock:
            self._actions.append(record)
            details = record.get("details") if isinstance(record.get("details"), dict) else {}
            path, alert_id = details.get("report_path"), record.get("alert_id")
            if record["action"] == REPORT_ACTION and path and alert_id:
                self._reports[str(alert_id)] = PurePath(str(path)).name
                while len(self._reports) > self.limits.actions:
                    self._reports.popitem(last=False)
            self.counts["actions"] += 1

    # --- the page's view ----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy: keys (latest record and points), open alerts, events, actions."""
        with self._lock:
            keys = [
                {"key": key, "latest": dict(latest),
                 "points": [[p.event_time, p.estimate, p.lower, p.upper, p.state, p.labels]
                            for p in self._points[key]]}
                for key, latest in sorted(self._latest.items())
            ]
            return {
                "slos": keys,
                "open_alerts": sorted(self._open.values(), key=lambda r: str(r.get("event_time"))),
                "alert_events": list(self._alert_events)[::-1],
                "actions": list(self._actions)[::-1],
                "reports": dict(self._reports),
                "counts": dict(self.counts),
            }

    def report_file(self, alert_id: str) -> str | None:
        with self._lock:
            return self._reports.get(alert_id)

"""Monitor output records for status page tests, built with the engine's own record classes."""

from __future__ import annotations

import math

from slo.routing import TrackerKey
from slo.snapshots import AlertEvent, StatusSnapshot

START = 1_795_694_400.0            # 2026-11-26T12:00:00Z
XSS_SEGMENT = 'country=<script>window.__xss=true</script><img src=x onerror="window.__xss=true">'
KEYS = [TrackerKey("fraud-precision", "fraud-detector"),
        TrackerKey("fraud-precision", "fraud-detector", "country=US"),
        TrackerKey("fraud-precision", "fraud-detector", XSS_SEGMENT)]
ALERT_ID = "ep-demo-0001"
REPORT_FILE = f"{ALERT_ID}.html"


def status_records(minutes: int = 120, bad_from: int = 80) -> list[dict]:
    """One snapshot per key per minute; the whole model breaches after `bad_from` minutes."""
    records = []
    for minute in range(minutes):
        for index, key in enumerate(KEYS):
            bad = index == 0 and minute >= bad_from
            estimate = 0.85 if bad else 0.97 + 0.01 * math.sin(minute / 7 + index)
            half = 0.03 + 0.02 / (1 + minute / 30)
            labels = 30 + minute
            state = "breached" if bad else "ok"
            records.append(StatusSnapshot(
                key=key, event_time=START + 60 * minute, metric="precision", objective=0.95, window="1h",
                estimate=estimate, lower=estimate - half, upper=min(1.0, estimate + half), labels=labels,
                state=state, reason="test", model_version="v2" if minute >= bad_from - 10 else "v1",
            ).to_record())
    return records


def alert_records(bad_from: int = 80) -> list[dict]:
    trigger = AlertEvent(
        alert_id=ALERT_ID, key=KEYS[0], action="trigger", severity="critical", event_time=START + 60 * bad_from,
        model_version="v2", estimate=0.85, lower=0.81, upper=0.89, labels=110,
        reason="precision 0.850 is confidently below the objective 0.95", metric="precision", objective=0.95,
        remediation=("rollback", "raise_review_sampling", "diagnostic_report"),
    ).to_record()
    return [trigger]


def action_records() -> list[dict]:
    common = {"alert_id": ALERT_ID, "dedup_key": KEYS[0].dedup_key, "severity": "critical", "slo": "fraud-precision",
              "model_id": "fraud-detector", "segment": None, "model_version": "2", "mode": "live",
              "service": "executor", "decided_at": "2026-11-26T13:20:03Z", "event_time": "2026-11-26T13:20:00Z"}
    return [
        {**common, "action": "rollback", "outcome": "done", "rule": "playbook",
         "reason": "champion of fraud-detector moved from version 2 to 1",
         "details": {"from_version": "2", "to_version": "1"}},
        {**common, "action": "diagnostic_report", "outcome": "done", "rule": "playbook",
         "reason": "diagnostic report written", "details": {"report_path": f"/somewhere/reports/{REPORT_FILE}"}},
    ]

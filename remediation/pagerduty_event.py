"""An slo-alerts record becomes a PagerDuty Events API v2 event (without the routing key).

Pure functions, so the page an on-call engineer reads can be checked without a network:

- ``summary``: one line, at most 1024 characters, saying what broke (tier, SLO, model, segment,
  version, the metric against its objective) and the monitor's own sentence when it fits;
- ``dedup_key``: the alert's stable identity, so trigger, escalate and resolve reach one incident;
- ``custom_details``: everything the engine knew (metric, bounds, window counts, burn rates,
  model version, top segments, extras), shrunk only if the event would pass 512 KB;
- ``links``: the diagnostic report and the dashboard; ``timestamp``: the event time.

The routing key is added by the PagerDuty client at send time and never passes through here.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson

from remediation.alert_record import Alert
from remediation.events_contract import MAX_DEDUP_KEY, MAX_EVENT_BYTES, MAX_SUMMARY
from remediation.report.files import report_url as diagnostic_report_url

CLIENT_NAME = "slo-monitor"
# Room left under PagerDuty's 512 KB for the routing key the client adds and JSON framing.
EVENT_BUDGET = MAX_EVENT_BYTES - 1024
_TOP_SEGMENTS_KEPT = 20


# Kept as they are in link fields: the separators of keys and segments ("fraud/m/country=US").
URL_SAFE = "/=:,"


@dataclass(frozen=True)
class LinkTemplates:
    """URL templates for the page's links; fields: {slo} {model_id} {segment} {alert_id}
    {dedup_key} {model_version}. A record's own ``report_url``/``dashboard_url`` wins."""

    report: str | None = None
    dashboard: str | None = None
    report_base_url: str | None = None   # status page: links <base>/reports/<alert_id>.html

    def render(self, template: str | None, alert: Alert) -> str | None:
        if not template:
            return None
        fields = {   # URL-quoted: a segment value like "Côte d'Ivoire & more" must not break the link
            name: quote(value, safe=URL_SAFE) for name, value in (
                ("slo", alert.slo), ("model_id", alert.model_id), ("segment", alert.segment or ""),
                ("alert_id", alert.alert_id), ("dedup_key", alert.dedup_key),
                ("model_version", alert.model_version or ""))
        }
        try:
            return template.format(**fields)
        except (KeyError, IndexError, ValueError):
            return template  # a bad template still gives a link rather than no page


def pagerduty_dedup_key(dedup_key: str) -> str:
    """The alert's dedup key, shortened deterministically if longer than PagerDuty allows.

    >>> pagerduty_dedup_key("p/m")
    'p/m'
    >>> len(pagerduty_dedup_key("x" * 400))
    255
    """
    if len(dedup_key) <= MAX_DEDUP_KEY:
        return dedup_key
    digest = hashlib.sha256(dedup_key.encode()).hexdigest()[:32]
    return f"{dedup_key[: MAX_DEDUP_KEY - 33]}#{digest}"


def trigger_event(alert: Alert, links: LinkTemplates = LinkTemplates()) -> dict[str, Any]:
    """The ``trigger`` event for a trigger or escalate record (PagerDuty updates an open
    alert with the same dedup key: escalation is a new trigger at the higher severity)."""
    report_url = (_text(alert.extras.get("report_url")) or links.render(links.report, alert)
                  or (diagnostic_report_url(links.report_base_url, alert.alert_id)
                      if links.report_base_url else None))
    dashboard_url = _text(alert.extras.get("dashboard_url")) or links.render(links.dashboard, alert)
    event: dict[str, Any] = {
        "event_action": "trigger",
        "dedup_key": pagerduty_dedup_key(alert.dedup_key),
        "payload": {
            "summary": summary(alert),
            "source": f"model:{alert.model_id}",
            "severity": alert.severity,
            "timestamp": alert.event_time_text,
            "component": alert.model_id,
            "group": alert.slo,
            "class": f"slo-{_text(alert.extras.get('metric')) or 'breach'}",
            "custom_details": custom_details(alert, report_url, dashboard_url),
        },
        "client": CLIENT_NAME,
    }
    event_links = [
        {"href": href, "text": text}
        for href, text in ((report_url, "Diagnostic report"), (dashboard_url, "SLO dashboard"))
        if href
    ]
    if event_links:
        event["links"] = event_links
    if dashboard_url:
        event["client_url"] = dashboard_url
    return fit_size(event)


def resolve_event(dedup_key: str) -> dict[str, Any]:
    """The ``resolve`` event: only the dedup key matters to PagerDuty."""
    return {"event_action": "resolve", "dedup_key": pagerduty_dedup_key(dedup_key)}


def summary(alert: Alert) -> str:
    """One line, <= 1024 characters: what broke, where, how badly; then the monitor's reason.

    >>> from datetime import datetime, UTC
    >>> a = Alert("a", "p/m/country=US", "escalate", "critical", "fraud-precision", "fraud-det",
    ...           "country=US", datetime(2026, 1, 1, tzinfo=UTC), "v7", 0.912, 0.89, 0.931,
    ...           240, "Precision fell\\nbelow objective.", {"metric": "precision", "objective": 0.95})
    >>> summary(a)
    '[CRITICAL] escalated: SLO fraud-precision on fraud-det (country=US) v7: precision 0.912 (0.890-0.931) below objective 0.950, 240 labels. Precision fell below objective.'
    """
    verb = {"trigger": "breached", "escalate": "escalated", "resolve": "recovered"}[alert.action]
    where = alert.model_id
    if alert.segment:
        where += f" ({alert.segment})"
    if alert.model_version:
        where += f" v{alert.model_version}" if not alert.model_version.startswith("v") else f" {alert.model_version}"
    head = f"[{alert.severity.upper()}] {verb}: SLO {alert.slo} on {where}"
    metric = _text(alert.extras.get("metric")) or "metric"
    objective = _number(alert.extras.get("objective"))
    figures = []
    if alert.estimate is not None:
        figures.append(f"{metric} {_fmt(alert.estimate)}")
        if alert.lower is not None and alert.upper is not None:
            figures.append(f"({_fmt(alert.lower)}-{_fmt(alert.upper)})")
    elif objective is not None:
        figures.append(f"{metric} unknown")
    if objective is not None:
        below = alert.estimate is not None and alert.estimate < objective
        figures.append(f"{'below' if below else 'vs'} objective {_fmt(objective)}")
    line = head + (": " + " ".join(figures) if figures else "")
    if alert.labels is not None:
        line += f", {alert.labels} labels"
    reason = _one_line(alert.reason or "")
    if reason:
        line += ". " + reason
    return _truncate(_one_line(line), MAX_SUMMARY)


def custom_details(alert: Alert, report_url: str | None, dashboard_url: str | None) -> dict[str, Any]:
    """The context an engineer needs without opening another tool: every field of the record."""
    details: dict[str, Any] = {
        "slo": alert.slo,
        "model_id": alert.model_id,
        "segment": alert.segment,
        "model_version": alert.model_version,
        "alert_id": alert.alert_id,
        "alert_action": alert.action,
        "event_time": alert.event_time_text,
        "estimate": alert.estimate,
        "lower": alert.lower,
        "upper": alert.upper,
        "labels_in_window": alert.labels,
        "reason": alert.reason,
    }
    for name, value in alert.extras.items():
        details.setdefault(name, value)
    if isinstance(details.get("top_segments"), list):
        details["top_segments"] = details["top_segments"][:_TOP_SEGMENTS_KEPT]
    if report_url:
        details["report_url"] = report_url
    if dashboard_url:
        details["dashboard_url"] = dashboard_url
    return {k: v for k, v in details.items() if v is not None}


def fit_size(event: dict[str, Any]) -> dict[str, Any]:
    """Keep the event under PagerDuty's 512 KB by replacing the largest custom details first.

    A page with fewer details beats a 400 and no page at all.
    """
    if len(orjson.dumps(event)) <= EVENT_BUDGET:
        return event
    details: dict[str, Any] = dict(event["payload"].get("custom_details", {}))
    sizes = sorted(((len(orjson.dumps(v)), k) for k, v in details.items()), reverse=True)
    for size, name in sizes:
        details[name] = f"<omitted: {size} bytes>"
        event = {**event, "payload": {**event["payload"], "custom_details": details}}
        if len(orjson.dumps(event)) <= EVENT_BUDGET:
            return event
    return event


def _fmt(value: float) -> str:
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:.4g}"


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


_SPACE = re.compile(r"\s+")


def _one_line(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

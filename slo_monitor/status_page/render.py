"""The status page's HTML, from a `StatusView.snapshot()`.

Every value that came from Kafka is escaped (`html.escape`, quotes too): a segment value like
`<script>` is shown as text. The page has no script; it refreshes itself every 10 seconds.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from slo_monitor.status_page.chart import STATE_COLOURS, svg_chart

REFRESH_SECONDS = 10

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.2em;color:#222;background:#fff}
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.2em 0 .4em}
.meta{color:#666;font-size:.9em}
.slo{border:1px solid #ddd;border-radius:6px;padding:.6em .8em;margin:.6em 0;display:inline-block;vertical-align:top}
.slo h3{font-size:1em;margin:0 0 .3em;font-family:ui-monospace,monospace}
.state{display:inline-block;padding:0 .5em;border-radius:3px;color:#fff;font-size:.85em}
table{border-collapse:collapse;font-size:.9em}td,th{border-bottom:1px solid #eee;padding:.25em .6em;text-align:left}
.none{color:#777}
.reason{color:#444;font-size:.9em}
"""


def _text(value: Any) -> str:
    return "-" if value is None else escape(str(value), quote=True)


def _number(value: Any, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"


def _state(state: Any) -> str:
    colour = STATE_COLOURS.get(str(state), "#757575")
    return f'<span class="state" style="background:{colour}">{_text(state)}</span>'


def report_href(alert_id: str, reports: dict[str, str]) -> str | None:
    """The page's link to an alert's diagnostic report, when an audit record named one."""
    name = reports.get(alert_id)
    return f"/reports/{quote(name)}" if name else None


def render_page(snapshot: dict[str, Any], *, title: str = "slo-monitor status") -> str:
    reports = snapshot["reports"]
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        '<p class="meta">Event time from the monitor\'s <code>slo-status</code>, <code>slo-alerts</code> and '
        '<code>remediation-actions</code> topics. <a href="/api/status">JSON</a> · <a href="/metrics">metrics</a> '
        '· <a href="/healthz">health</a></p>',
        f'<h2>SLOs <span class="meta">({len(snapshot["slos"])} keys)</span></h2>',
    ]
    if not snapshot["slos"]:
        out.append('<p class="none" id="no-slos">no SLO status received yet</p>')
    for entry in snapshot["slos"]:
        latest = entry["latest"]
        out.append(
            f'<div class="slo" data-key="{_text(entry["key"])}"><h3>{_text(entry["key"])}</h3>'
            f'<div>{_state(latest.get("state"))} {_text(latest.get("metric"))} '
            f'<b class="estimate">{_number(latest.get("estimate"))}</b> '
            f'[{_number(latest.get("lower"))}, {_number(latest.get("upper"))}] objective '
            f'{_number(latest.get("objective"))} · labels {_text(latest.get("labels"))} · version '
            f'{_text(latest.get("model_version"))} · at {_text(latest.get("event_time"))}</div>'
            f'<div class="reason">{_text(latest.get("reason"))}</div>'   # why this state; a held alert says so
            + svg_chart(entry["points"], latest.get("objective") if isinstance(latest.get("objective"), (int, float))
                        else None, f'{entry["key"]}: estimate and confidence band over event time')
            + "</div>"
        )
    out.append(f'<h2>Open alerts <span class="meta">({len(snapshot["open_alerts"])})</span></h2>')
    out.append(_alert_table(snapshot["open_alerts"], reports, "open-alerts", "no open alert"))
    out.append("<h2>Recent remediation actions</h2>")
    out.append(_action_table(snapshot["actions"][:50], reports))
    out.append("<h2>Recent alert events</h2>")
    out.append(_alert_table(snapshot["alert_events"][:50], reports, "alert-events", "no alert event"))
    out.append("</body></html>")
    return "".join(out)


ALERT_COLUMNS = (("event time", "event_time"), ("action", "action"), ("severity", "severity"),
                 ("key", "dedup_key"), ("version", "model_version"), ("estimate", "estimate"), ("reason", "reason"))
ACTION_COLUMNS = (("decided at", "decided_at"), ("service", "service"), ("action", "action"),
                  ("outcome", "outcome"), ("key", "dedup_key"), ("reason", "reason"))


def _alert_table(alerts: list[dict[str, Any]], reports: dict[str, str], table_id: str, empty: str) -> str:
    return _table(alerts, ALERT_COLUMNS, reports, table_id, empty, lambda record: True)


def _action_table(actions: list[dict[str, Any]], reports: dict[str, str]) -> str:
    return _table(actions, ACTION_COLUMNS, reports, "actions", "no remediation action",
                  lambda record: record.get("action") == "diagnostic_report")


def _table(records: list[dict[str, Any]], columns, reports: dict[str, str], table_id: str, empty: str,
           links) -> str:
    """One row per record, escaped cells, and a report link where `links(record)` and a report exist."""
    if not records:
        return f'<p class="none" id="{table_id}">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(title)}</th>" for title, _ in columns)
    rows = [f'<table id="{table_id}"><tr>{head}<th>report</th></tr>']
    for record in records:
        href = report_href(str(record.get("alert_id")), reports) if links(record) else None
        cells = "".join(f"<td>{_number(record.get(field)) if field == 'estimate' else _text(record.get(field))}</td>"
                        for _, field in columns)
        link = f'<a href="{_text(href)}">report</a>' if href else "-"
        rows.append(f"<tr>{cells}<td>{link}</td></tr>")
    return "".join(rows) + "</table>"

"""The diagnostic report as one self-contained HTML page, from the summary the monitor made
(slo/diagnosis/sketch.py `DiagnosticSketch.summary`).

Self-contained: the styles are inline, the plots are inline SVG (remediation/report/svg.py),
and there is no script and no external URL, so the file opens anywhere, offline, and can be
attached to a ticket. Every value taken from the summary is escaped (`esc`): segment values,
feature names, reviewers and versions come from user data. Each section is a
``<section id=...>``; SECTIONS lists them in page order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from remediation.report.svg import bar_chart, esc, histograms, line_chart

SECTIONS = ("verdict", "timeline", "confusion", "segments", "drift", "upstream", "score",
            "versions", "reviewers", "false-positives")
STYLE = """
body{font-family:sans-serif;margin:24px;color:#222;max-width:1000px}
h1{font-size:20px}h2{font-size:16px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
table{border-collapse:collapse;font-size:12px;margin:8px 0}
td,th{border:1px solid #ddd;padding:3px 6px;text-align:right}th{background:#f4f4f4}
td.t,th.t{text-align:left}.verdict{padding:10px 14px;border-radius:6px;background:#fff4e5;
border:1px solid #f0b35a}.verdict.none{background:#eef6ee;border-color:#8c8}
.muted{color:#777;font-size:12px}.bad{color:#b00;font-weight:bold}
"""
VERDICT_TEXT = {
    "upstream_change": "Upstream change: a feature arrives broken (missing values, unseen "
                       "categories or a jump out of its range)",
    "labelling_problem": "Labelling problem: a reviewer disagrees with the others",
    "version_regression": "Version regression: only one model version is bad",
    "data_drift": "Data drift: the inputs changed",
    "concept_drift": "Concept drift: the metric dropped while the inputs did not change",
    "no_clear_cause": "No clear cause: the metric dropped, but no rule's evidence is complete",
    "none": "No confident verdict: no significant drop and no cause stands out",
}


def render_html(summary: dict[str, Any]) -> str:
    """The report page for one summary."""
    alert, slo = summary.get("alert") or {}, summary.get("slo") or {}
    title = f"Diagnostic report: {slo.get('name', '?')} on {slo.get('model_id', '?')}"
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f'<p class="muted">alert {esc(alert.get("alert_id"))} &middot; {esc(alert.get("severity"))} '
        f'&middot; {esc(alert.get("event_time"))} &middot; segment {esc(alert.get("segment") or "all")} '
        f'&middot; version {esc(alert.get("model_version") or "unknown")}</p>',
        f'<p>{esc(alert.get("reason", ""))}</p>',
        _verdict(summary), _timeline(summary), _confusion(summary), _segments(summary),
        _drift(summary), _drift_monitor(summary), _upstream(summary), _score(summary), _versions(summary),
        _reviewers(summary), _false_positives(summary),
        f'<p class="muted">{_periods(summary)}</p>', "</body></html>"]
    return "\n".join(parts)


def _section(id_: str, heading: str, *body: str) -> str:
    return f'<section id="{id_}"><h2>{esc(heading)}</h2>{"".join(body)}</section>'


def _f(x: Any, digits: int = 3) -> str:
    if x is None:
        return "&ndash;"
    if isinstance(x, float):
        return esc(f"{x:.{digits}g}" if abs(x) < 1e-3 and x else f"{x:.{digits}f}")
    return esc(x)


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], text_columns: int = 1) -> str:
    head = "".join(f'<th class="{"t" if i < text_columns else ""}">{esc(h)}</th>'
                   for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td class="{"t" if i < text_columns else ""}">{_f(v)}</td>'
                                    for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _verdict(summary: dict[str, Any]) -> str:
    triage = summary.get("triage") or {}
    verdict = str(triage.get("verdict", "none"))
    cls = "verdict" + ("" if triage.get("confident") else " none")
    evidence = "".join(f"<li>{esc(e)}</li>" for e in triage.get("evidence", []))
    others = [name for name, c in (triage.get("causes") or {}).items()
              if c.get("holds") and name != verdict]
    also = (f'<p class="muted">Also supported, lower in the rules\' order: '
            f'{esc(", ".join(others))}</p>' if others else "")
    return _section("verdict", "Triage verdict",
                    f'<div class="{cls}"><b>{esc(VERDICT_TEXT.get(verdict, verdict))}</b>'
                    f"<ul>{evidence}</ul></div>{also}")


def _timeline(summary: dict[str, Any]) -> str:
    tl = summary.get("timeline") or {}
    points = tl.get("points") or []
    xs = [_epoch(p["t"]) for p in points]
    labels = (points[0]["t"], points[-1]["t"]) if points else ("", "")
    metric = (summary.get("slo") or {}).get("metric", "metric")
    chart = line_chart(xs, [(f"{metric} estimate", [p["estimate"] for p in points])],
                       band=([p["lower"] for p in points], [p["upper"] for p in points]),
                       hline=(tl.get("objective") or 0.0, "objective"), x_labels=labels,
                       title=f"{metric} with its confidence band")
    names = sorted({k for p in points for k in (p.get("burn_rates") or {})})
    burn = line_chart(xs, [(f"burn {n}", [(p.get("burn_rates") or {}).get(n) for p in points])
                           for n in names], hline=(1.0, "burn 1x"), x_labels=labels,
                      title="burn rates", height=180)
    return _section("timeline", f"SLO timeline ({tl.get('key', '')})", chart, burn)


def _confusion(summary: dict[str, Any]) -> str:
    conf = summary.get("confusion") or {}
    rows = []
    for period in ("reference", "current"):
        c = conf.get(period) or {}
        labels, weighted = c.get("labels", {}), c.get("weighted", {})
        rows.append([period] + [f"{labels.get(k, 0)} ({weighted.get(k, 0.0):.1f})"
                                for k in ("tp", "fp", "fn", "tn")])
    metric = summary.get("metric") or {}
    cur, ref = metric.get("current") or {}, metric.get("reference") or {}
    note = (f"<p>{esc(metric.get('name', 'metric'))}: {_f(ref.get('estimate'))} in the healthy "
            f"reference, {_f(cur.get('estimate'))} now (two-proportion p = "
            f"{_f(metric.get('p_value'))}).</p>")
    return _section("confusion", "Confusion matrix now vs healthy reference",
                    _table(["period", "TP", "FP", "FN", "TN"], rows),
                    '<p class="muted">labels (Horvitz-Thompson weighted counts)</p>', note)


def _segments(summary: dict[str, Any]) -> str:
    rows = summary.get("segments") or []
    chart = bar_chart([(f"{r['key']}={r['value']}", r["contribution"], None, None)
                       for r in rows[:20]], title="contribution to the drop")
    table = _table(["segment", "now", "labels", "reference", "contribution", "q"],
                   [(f"{r['key']}={r['value']}", r["current"]["estimate"], r["current"]["labels"],
                     r["reference"]["estimate"], r["contribution"], r["q_value"])
                    for r in rows[:30]])
    return _section("segments", "Segments ranked by contribution to the drop", chart, table)


def _drift_table(drift: dict[str, Any]) -> str:
    return _table(["feature", "test", "p", "q", "PSI", "PSI threshold", "missing ref", "missing now",
                   "drifted"],
                  [(name, d.get("test"), d.get("p_value"), d.get("q_value"), d.get("psi"),
                    d.get("psi_threshold"), d.get("missing_reference"), d.get("missing_current"),
                    "yes" if d.get("drifted") else "no") for name, d in drift.items()], 2)


def _drift(summary: dict[str, Any]) -> str:
    every, flagged = summary.get("input_drift") or {}, summary.get("flagged_drift") or {}
    chart = bar_chart([(name, (d.get("psi") or 0.0) / d["psi_threshold"], None, None)
                       for name, d in flagged.items() if d.get("psi_threshold")],
                      reference=(1.0, "threshold"),
                      title="PSI of flagged predictions relative to its threshold")
    return _section("drift", "Feature drift, now vs reference",
                    "<h3>Flagged predictions</h3>", chart, _drift_table(flagged),
                    "<h3>All predictions (the inputs)</h3>", _drift_table(every))


def _drift_monitor(summary: dict[str, Any]) -> str:
    """The SLO's own drift monitor (a ``drift:`` block), as of its last evaluation: label-free."""
    record = summary.get("drift_monitor")
    if not record:
        return ""
    estimate = record.get("estimated_metric") or {}
    rate = record.get("flagged_rate") or {}
    rows = [("status", record.get("status")), ("why", record.get("reason")),
            ("evaluated at", record.get("event_time")),
            ("drifted features", ", ".join(record.get("drifted") or []) or "none"),
            ("estimated metric (no labels)", estimate.get("estimate")),
            ("its interval", f"{_plain_number(estimate.get('lower'))} to {_plain_number(estimate.get('upper'))}"),
            ("same estimate in the reference", estimate.get("reference")),
            ("realized, from labels", estimate.get("realized")),
            ("flagged rate now / reference",
             f"{_plain_number(rate.get('current'))} / {_plain_number(rate.get('reference'))}")]
    return _section("drift-monitor", "Label-free signals (the SLO's drift monitor)",
                    _table(["signal", "value"], rows, 2))


def _plain_number(x: Any) -> str:
    """A number as text for a table cell that `_table` escapes (so no HTML entities here)."""
    return "-" if x is None else f"{x:.3f}"


def _upstream(summary: dict[str, Any]) -> str:
    rows = []
    for name, checks in (summary.get("upstream") or {}).items():
        for c in checks:
            detail = {"missing_values": lambda c: f"{_pct(c.get('reference'))} -> {_pct(c.get('current'))}",
                      "unseen_categories": lambda c: f"{c.get('count')}: {', '.join(c.get('values') or [])}",
                      "range_jump": lambda c: f"{_pct(c.get('outside'))} outside the reference range"
                      }[c["check"]](c)
            rows.append((name, c["check"], detail, c.get("q_value"), "yes" if c.get("found") else "no"))
    return _section("upstream", "Upstream checks (missing values, unseen categories, range jumps)",
                    _table(["feature", "check", "what", "q", "found"], rows, 3))


def _score(summary: dict[str, Any]) -> str:
    shift = summary.get("score_shift") or {}
    edges = shift.get("edges") or []
    labels = [f"{e:.2f}" for e in edges[:-1]] + ["none"]
    parts = []
    for name in ("all", "flagged"):
        s = shift.get(name) or {}
        parts.append(histograms(labels, [("reference", s.get("reference") or []),
                                         ("now", s.get("current") or [])],
                                title=f"score distribution, {name} predictions"))
        parts.append(f"<p>{esc(name)} predictions: PSI {_f(s.get('psi'))} (threshold "
                     f"{_f(s.get('psi_threshold'))}), chi-square p = {_f(s.get('p_value'))}</p>")
    return _section("score", "Score distribution shift", *parts)


def _versions(summary: dict[str, Any]) -> str:
    rows = summary.get("versions") or []
    chart = bar_chart([(r["value"], r["current"]["estimate"], r["current"]["lower"],
                        r["current"]["upper"]) for r in rows],
                      reference=((summary.get("slo") or {}).get("objective") or 0.0, "objective"),
                      title="metric by model version")
    table = _table(["version", "first seen", "predictions", "labels", "now", "rest", "q", "worse"],
                   [(r["value"], r.get("first_seen"), r["predictions"], r["current"]["labels"],
                     r["current"]["estimate"], r["rest"]["estimate"], r["q_value"],
                     "yes" if r["worse"] else "no") for r in rows], 2)
    return _section("versions", "Model versions", chart, table)


def _reviewers(summary: dict[str, Any]) -> str:
    rows = summary.get("reviewers") or []
    chart = bar_chart([(r["value"], r["current"]["estimate"], r["current"]["lower"],
                        r["current"]["upper"]) for r in rows],
                      title="metric by reviewer (agreement with the model)")
    table = _table(["reviewer", "labels", "now", "other reviewers", "q", "mean label delay (s)",
                    "disagrees"],
                   [(r["value"], r["current"]["labels"], r["current"]["estimate"],
                     r["rest"]["estimate"], r["q_value"], r["mean_label_delay"],
                     "yes" if r["worse"] else "no") for r in rows])
    delay = summary.get("label_delay") or {}
    edges = delay.get("edges") or []
    labels = [f"<{e:g}s" for e in edges] + [f">={edges[-1]:g}s" if edges else ""]
    hist = histograms(labels, [("reference", delay.get("reference") or []),
                               ("now", delay.get("current") or [])], title="label delay")
    return _section("reviewers", "Reviewers and label delay", chart, table, hist,
                    f"<p>median label delay: {esc(delay.get('median_bin_reference'))} in the "
                    f"reference, {esc(delay.get('median_bin_current'))} now</p>")


def _false_positives(summary: dict[str, Any]) -> str:
    rows = summary.get("false_positives") or []
    return _section("false-positives", "Recent false positives", _table(
        ["prediction", "predicted at", "score", "version", "reviewer", "segment", "features"],
        [(r.get("prediction_id"), r.get("predicted_at"), r.get("score"), r.get("model_version"),
          r.get("reviewer"), _pairs(r.get("segment")), _pairs(r.get("features"))) for r in rows],
        7))


def _periods(summary: dict[str, Any]) -> str:
    p = summary.get("periods") or {}
    cur, ref = p.get("current") or {}, p.get("reference") or {}
    healthy = "healthy slices only" if ref.get("healthy_only") else "including unhealthy slices"
    return (f"current: {esc(cur.get('start'))} to {esc(cur.get('end'))}, "
            f"{esc(cur.get('predictions'))} predictions; reference: {esc(ref.get('start'))} to "
            f"{esc(ref.get('end'))}, {esc(ref.get('predictions'))} predictions ({healthy}).")


def _pairs(mapping: Any) -> str:
    if not isinstance(mapping, dict):
        return ""
    return ", ".join(f"{k}={v}" for k, v in mapping.items())


def _pct(x: Any) -> str:
    return "?" if x is None else f"{100 * float(x):.1f}%"


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

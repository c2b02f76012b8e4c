"""The short end-of-run summary: what was sent, and the ground truth the monitor should see."""

from __future__ import annotations

from simulator.durations import format_duration, format_time
from simulator.runner import RunReport
from simulator.stats import FP, TP, precision_of, recall_of
from simulator.streams import TrafficGenerator


def _pr(cells) -> str:
    p, r = precision_of(cells), recall_of(cells)
    n = int(cells.sum())
    p_s = "n/a" if p is None else f"{p:.3f}"
    r_s = "n/a" if r is None else f"{r:.3f}"
    return f"precision {p_s} recall {r_s} ({n:,} predictions, {int(cells[FP] + cells[TP]):,} flagged)"


def format_summary(report: RunReport, generator: TrafficGenerator, destination: str) -> str:
    s, sc = report.stats, generator.scenario
    lines = [f"scenario {sc.name} for model {generator.model_id} (seed {generator.seed}, "
             f"{generator.rate_per_hour:g} predictions/h)"]
    lines += [f"  {item}" for item in sc.timeline()]
    if s.first_prediction_time is not None:
        span = f"predictions {format_time(s.first_prediction_time)} .. {format_time(s.last_prediction_time)}"
        if s.last_label_time is not None:
            span += f", labels until {format_time(s.last_label_time)}"
        lines.append(span)
    flagged_share = s.flagged / s.predictions if s.predictions else 0.0
    lines.append(f"sent {report.counts.get('prediction', 0):,} predictions ({s.flagged:,} flagged, "
                 f"{flagged_share:.1%}) and {report.counts.get('label', 0):,} labels "
                 f"({s.labels_positive:,} positive; {s.reviewed:,} reviewed"
                 + (f", {s.labels_dropped:,} past the label tail" if s.labels_dropped else "") + ")")
    lines.append(f"ground truth: {_pr(s.confusion)}")
    est_p, est_r = s.estimated_precision, s.estimated_recall
    if est_p is not None or est_r is not None:
        fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
        lines.append(f"labels estimate (weighted 1/review_probability): precision {fmt(est_p)} "
                     f"recall {fmt(est_r)}")
    edges = [generator.start] + s.phase_edges + [None]
    if len(s.by_phase) > 1 or s.phase_edges:
        for i in sorted(s.by_phase):
            lo, hi = edges[i] - generator.start, edges[i + 1]
            hi_s = "end" if hi is None else f"+{format_duration(hi - generator.start)}"
            lines.append(f"  phase [+{format_duration(lo)}, {hi_s}): {_pr(s.by_phase[i])}")
    if len(s.by_version) > 1:
        for version, cells in sorted(s.by_version.items()):
            lines.append(f"  version {version}: {_pr(cells)}")
    keys = {k for c in sc.changes if c.segment for k in c.segment}
    for (key, value), cells in sorted(s.by_segment.items()):
        if key in keys:
            lines.append(f"  {key}={value}: {_pr(cells)}")
    rate = report.events_per_second
    lines.append(f"wrote to {destination} in {report.wall_seconds:.2f}s ({rate:,.0f} events/s)"
                 + (" - interrupted" if report.interrupted else ""))
    return "\n".join(lines)

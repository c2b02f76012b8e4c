"""Label streams for the SLO engine tests: joined records with known truth, and a driver that
feeds them to a tracker the way the flow will (records in arrival order, watermark behind)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from schemas.joined import JoinedRecord
from slo.snapshots import AlertEvent, StatusSnapshot
from slo.spec import SloSpec, parse_slo_yaml
from slo.tracker import SloTracker

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def precision_spec(objective: float = 0.95, window: str = "1h", min_labels: int = 30,
                   extra: str = "", metric: str = "precision") -> SloSpec:
    """A precision SLO on model m (positive label 1), or one of `metric`."""
    text = (f"slos:\n  - name: p\n    model_id: m\n    metric: {metric}\n    positive_label: 1\n"
            f"    objective: {objective}\n    window: {window}\n    min_labels: {min_labels}\n"
            + extra)
    return parse_slo_yaml(text).slos[0]


def flagged_stream(rng: np.random.Generator, start: float, minutes: int, per_hour: float,
                   precision: float | Callable[[np.ndarray], np.ndarray],
                   delay: float = 30.0, review_probability: float = 1.0,
                   version: str | Callable[[float], str] = "v1") -> list[JoinedRecord]:
    """Labels for flagged predictions (what precision is computed from), Poisson arrivals.

    `precision` may depend on the minute index; each label arrives `delay` seconds after its
    prediction.
    """
    counts = rng.poisson(per_hour / 60.0, minutes)
    minute_of = np.repeat(np.arange(minutes), counts)
    times = start + 60.0 * minute_of + rng.uniform(0.0, 60.0, len(minute_of))
    p = precision(minute_of) if callable(precision) else np.full(len(minute_of), precision)
    correct = rng.uniform(size=len(minute_of)) < p
    out = []
    for i, (t, ok) in enumerate(zip(times.tolist(), correct.tolist())):
        v = version(t) if callable(version) else version
        out.append(JoinedRecord(f"p{i}", "m", v, t, t + delay, 1, 1 if ok else 0,
                                review_probability))
    return out


def healthy_then(precision_after: float, hours_after: int, seed: int = 7,
                 per_hour: float = 600.0) -> list[JoinedRecord]:
    """Two days at 0.97 (a key's usual level), then `precision_after` for `hours_after`."""
    rng = np.random.default_rng(seed)
    before = 48 * 60
    return flagged_stream(rng, START, before + hours_after * 60, per_hour,
                          lambda m: np.where(m < before, 0.97, precision_after))


def drive_shuffled(spec: SloSpec, records: list[JoinedRecord], seed: int) -> SloTracker:
    """A tracker fed the same labels per minute step as `drive`, each step's read in a random
    order (as two shards might deliver them)."""
    tracker = SloTracker(spec)
    shuffled = list(records)
    np.random.default_rng(seed).shuffle(shuffled)
    by_step: dict[int, list[JoinedRecord]] = {}
    for r in shuffled:
        by_step.setdefault(int(r.labeled_at // 60) + 1, []).append(r)
    for step in sorted(by_step):
        for r in by_step[step]:
            tracker.observe(r)
        tracker.advance(step * 60.0)
    return tracker


@dataclass
class Run:
    """Everything a driven tracker produced."""

    snapshots: list[StatusSnapshot] = field(default_factory=list)
    events: list[AlertEvent] = field(default_factory=list)

    def pages(self, severities: Iterable[str] = ("critical", "error")) -> list[AlertEvent]:
        wanted = set(severities)
        return [e for e in self.events if e.action in ("trigger", "escalate") and e.severity in wanted]

    def first(self, action: str, severity: str | None = None) -> AlertEvent | None:
        for e in self.events:
            if e.action == action and (severity is None or e.severity == severity):
                return e
        return None


def drive(tracker: SloTracker, records: list[JoinedRecord], start: float, end: float,
          step: float = 60.0, lateness: float = 0.0, keep_snapshots: bool = True,
          predictions: list[float] | None = None) -> Run:
    """Feed records in arrival (label time) order and advance the watermark every `step`.

    The watermark is the arrival time minus `lateness`, like the flow's.
    """
    ordered = sorted(records, key=lambda r: r.labeled_at)
    preds = sorted(predictions or [])
    run = Run()
    i = j = 0
    t = start + step
    while t <= end:
        while i < len(ordered) and ordered[i].labeled_at < t:
            tracker.observe(ordered[i])
            i += 1
        while j < len(preds) and preds[j] < t:
            tracker.observe_prediction(preds[j])
            j += 1
        for snapshot, events in tracker.advance_all(t - lateness):
            if keep_snapshots:
                run.snapshots.append(snapshot)
            run.events.extend(events)
        t += step
    return run


def recall_spec(objective: float = 0.95, window: str = "1h", min_labels: int = 30,
                extra: str = "") -> SloSpec:
    """A recall SLO on model m (positive label 1)."""
    return precision_spec(objective, window, min_labels, extra, metric="recall")


def recall_stream(rng: np.random.Generator, start: float, minutes: int, per_hour: float,
                  recall: float | Callable[[np.ndarray], np.ndarray], prevalence: float = 0.05,
                  false_positive_rate: float = 0.005, review_unflagged: float = 0.02,
                  delay: float = 30.0) -> tuple[list[JoinedRecord], np.ndarray, np.ndarray]:
    """Review labels of a recall SLO's model: every flagged prediction reviewed, a share
    `review_unflagged` of the others (the usual design, and the hard case: a reviewed false
    negative stands for 1/review_unflagged of them).

    Returns the labels and, per prediction, its time and whether it was a true positive, a
    false negative or neither (1, 0, -1), for the true recall of any window.
    """
    counts = rng.poisson(per_hour / 60.0, minutes)
    minute_of = np.repeat(np.arange(minutes), counts)
    times = start + 60.0 * minute_of + rng.uniform(0.0, 60.0, len(minute_of))
    r = recall(minute_of) if callable(recall) else np.full(len(minute_of), recall)
    positive = rng.uniform(size=len(times)) < prevalence
    flagged = np.where(positive, rng.uniform(size=len(times)) < r,
                       rng.uniform(size=len(times)) < false_positive_rate)
    reviewed = flagged | (rng.uniform(size=len(times)) < review_unflagged)
    out = []
    for i in np.flatnonzero(reviewed).tolist():
        t = float(times[i])
        out.append(JoinedRecord(f"r{i}", "m", "v1", t, t + delay, int(flagged[i]), int(positive[i]),
                                1.0 if flagged[i] else review_unflagged))
    outcome = np.where(positive, np.where(flagged, 1, 0), -1)
    return out, times, outcome

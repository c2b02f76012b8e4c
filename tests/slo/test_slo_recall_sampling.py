"""Recall when false negatives are rarely reviewed: every flagged prediction reviewed, 2% of the
others (so a reviewed false negative stands for fifty). The bounds must still cover the truth,
a healthy model must not page, and a real drop must."""

from __future__ import annotations

import numpy as np
import pytest

from slo.intervals import Bounds
from slo.tracker import SloTracker
from slo_sim import START, drive, recall_spec, recall_stream

HOUR, DAY = 3600.0, 86400.0


def _linearized_interval(counts, confidence: float = 0.95) -> tuple[float, float]:
    """The interval this replaced: Wilson at the linearization n_eff of the weighted share (its
    Kish fallback when no miss was reviewed)."""
    h, m, h2, m2 = counts.hit_weight, counts.miss_weight, counts.hit_weight_sq, counts.miss_weight_sq
    p = h / (h + m)
    spread = h2 * (1 - p) ** 2 + m2 * p * p
    n_eff = p * (1 - p) * (h + m) ** 2 / spread if 0 < p < 1 else (h + m) ** 2 / (h2 + m2)
    return Bounds("wilson").interval(p, n_eff, confidence)


@pytest.mark.parametrize("per_hour, recall", [(20_000, 0.90), (6_000, 0.97)],
                         ids=["two-reviewed-misses-an-hour", "one-reviewed-miss-in-six-hours"])
def test_bounds_cover_the_true_recall(per_hour, recall):
    hours = 150
    rng = np.random.default_rng(41)
    records, times, outcome = recall_stream(rng, START, hours * 60, per_hour, recall)
    tracker = SloTracker(recall_spec())
    by_hour = sorted(records, key=lambda r: r.labeled_at)
    covered, old_covered, i = [], [], 0
    for hour in range(1, hours + 1):
        end = START + hour * HOUR
        while i < len(by_hour) and by_hour[i].labeled_at < end + 60:   # the labels of the hour
            tracker.observe(by_hour[i])
            i += 1
        status, _ = tracker.advance(end)
        inside = (times >= end - HOUR) & (times < end)
        truth = np.mean(outcome[inside & (outcome >= 0)])
        if status.lower is None:
            continue
        covered.append(status.lower <= truth <= status.upper)
        low, high = _linearized_interval(tracker.window_counts(3600))
        old_covered.append(low <= truth <= high)
    assert len(covered) >= hours - 2
    # 95% intervals; over 150 hours the coverage's standard error is ~0.018 (measured: 0.933
    # and 0.947; the linearized ones 0.793 and 0.120)
    assert np.mean(covered) >= 0.90, np.mean(covered)
    assert np.mean(old_covered) <= 0.85, "the case this test is about: the old bounds missed"


def test_a_healthy_recall_does_not_page_in_30_days():
    # true recall 0.97 against 0.95: ~290 true positives an hour, 9 false negatives of which
    # 0.18 an hour are reviewed, each standing for fifty
    rng = np.random.default_rng(2027)
    records, _, _ = recall_stream(rng, START, 30 * 24 * 60, 6000, 0.97)
    tracker = SloTracker(recall_spec())
    run = drive(tracker, records, START, START + 30 * DAY)
    estimates = np.array([s.estimate for s in run.snapshots if s.estimate is not None])
    below = estimates < 0.95
    # the test means something: the point estimate fell far below the objective, many times
    assert int(np.sum(below[1:] & ~below[:-1])) >= 20 and estimates.min() < 0.8
    assert run.pages(("critical", "error", "warning")) == []


# seeds 1-6 paged after 1.8-7.6 h (0.80) and 1.0-3.9 h (0.60); with 0.2 reviewed false negatives
# an hour at the objective, a few hours is what telling them apart takes (raising the review rate
# of unflagged predictions, a remediation action, shortens it)
@pytest.mark.parametrize("after, within_hours", [(0.80, 8), (0.60, 4.5)])
def test_a_recall_drop_pages_within_hours(after, within_hours):
    rng = np.random.default_rng(5)
    change = 2 * 24 * 60
    records, _, _ = recall_stream(rng, START, change + 12 * 60, 6000,
                                  lambda m: np.where(m < change, 0.97, after))
    tracker = SloTracker(recall_spec())
    run = drive(tracker, records, START, START + change * 60 + 12 * HOUR)
    pages = run.pages(("critical", "error"))
    assert pages, f"recall {after} never paged"
    assert START + change * 60 < pages[0].event_time <= START + change * 60 + within_hours * HOUR

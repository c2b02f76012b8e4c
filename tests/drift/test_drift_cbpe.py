"""The label-free estimate: right on average, honest bounds, declines seen, labels win."""

from __future__ import annotations

import numpy as np
import pytest
from drift_sim import drive

from simulator.model import Behaviour
from simulator.scenarios import HOUR, stable
from simulator.streams import TrafficGenerator
from slo.drift import DriftMonitor, DriftSpec
from slo.drift.cbpe import estimate_metric, fit_curve, score_bin
from slo.drift.window import Bucket

BINS = 40


def labelled(rng, n, low, high, review=1.0, truth=lambda s: s) -> np.ndarray:
    """Label sums of n predictions with scores U(low, high), P(positive | s) = truth(s)."""
    b = Bucket(1, BINS)
    for s in rng.uniform(low, high, n):
        if rng.random() < review:
            b.add_label(int(s >= 0.5), score_bin(s, BINS), rng.random() < truth(s), 1.0 / review)
    return b.labels


def histogram(scores) -> np.ndarray:
    hist = np.zeros((2, BINS + 1), dtype=np.int64)
    for s in scores:
        hist[int(s >= 0.5), score_bin(s, BINS)] += 1
    return hist


def run(metric, calibration, cur_scores, ref_scores, rng, labels=None, min_labels=30):
    return estimate_metric(metric, calibration, histogram(cur_scores), histogram(ref_scores),
                           labels if labels is not None else np.zeros_like(calibration),
                           confidence=0.95, draws=200, min_labels=min_labels, min_decline=0.0,
                           rng=rng)


def test_isotonic_curve_recovers_a_monotone_calibration():
    rng = np.random.default_rng(1)
    labels = labelled(rng, 20000, 0.5, 1.0)
    curve = fit_curve(labels[1, :BINS])
    centres = (np.arange(20, 40) + 0.5) / BINS
    assert np.abs(curve[20:] - centres).max() < 0.06
    assert (np.diff(curve[20:]) >= 0).all()
    assert fit_curve(np.zeros((BINS, 6))) is None


def test_bounds_cover_the_realized_precision_at_their_level():
    rng = np.random.default_rng(2)
    calibration = labelled(rng, 2000, 0.5, 1.0)
    ref_scores = rng.uniform(0.5, 1.0, 5000)
    hits = []
    for _ in range(150):
        scores = rng.uniform(0.5, 1.0, 300)
        realized = np.mean(rng.random(300) < scores)
        e = run("precision", calibration, scores, ref_scores, rng)
        hits.append(e.lower <= realized <= e.upper)
        assert e.estimate == pytest.approx(np.mean(scores), abs=0.03)
    assert 0.89 <= np.mean(hits) <= 0.99


def test_a_shift_to_lower_scores_is_a_significant_decline_and_no_shift_is_not():
    rng = np.random.default_rng(3)
    calibration = labelled(rng, 2000, 0.5, 1.0)
    ref_scores = rng.uniform(0.5, 1.0, 5000)
    lower = run("precision", calibration, rng.uniform(0.5, 0.9, 400), ref_scores, rng)
    assert lower.declined and lower.reference - lower.estimate > 0.05
    false = [run("precision", calibration, rng.uniform(0.5, 1.0, 400), ref_scores, rng).declined
             for _ in range(100)]
    assert np.mean(false) <= 0.10


def test_recall_uses_the_horvitz_thompson_weighted_unflagged_labels():
    rng = np.random.default_rng(4)
    truth = lambda s: s ** 3                                    # noqa: E731
    # flagged all reviewed, unflagged 5% reviewed (each stands for 20)
    calibration = (labelled(rng, 4000, 0.5, 1.0, truth=truth)
                   + labelled(rng, 60000, 0.0, 0.5, review=0.05, truth=truth))
    cur = np.r_[rng.uniform(0.5, 1.0, 1000), rng.uniform(0.0, 0.5, 15000)]
    tp = np.sum(cur[cur >= 0.5] ** 3)
    expected = tp / (tp + np.sum(cur[cur < 0.5] ** 3))
    e = run("recall", calibration, cur, cur, rng)
    assert e.estimate == pytest.approx(expected, abs=0.03)
    assert e.lower < expected < e.upper


def test_no_calibration_labels_means_no_estimate_and_labels_win_when_enough():
    rng = np.random.default_rng(5)
    empty = np.zeros((2, BINS + 1, 6))
    e = run("precision", empty, rng.uniform(0.5, 1.0, 100), rng.uniform(0.5, 1.0, 100), rng)
    assert e.estimate is None and "no labelled flagged" in e.why and e.source is None
    calibration = labelled(rng, 2000, 0.5, 1.0)
    window_labels = labelled(rng, 100, 0.5, 1.0)
    e = run("precision", calibration, rng.uniform(0.5, 1.0, 100), rng.uniform(0.5, 1.0, 100), rng,
            labels=window_labels)
    assert e.source == "realized" and e.value == e.realized and e.realized_labels == 100
    e = run("precision", calibration, rng.uniform(0.5, 1.0, 100), rng.uniform(0.5, 1.0, 100), rng,
            labels=window_labels, min_labels=500)
    assert e.source == "estimated" and e.value == e.estimate


def test_estimated_precision_tracks_the_realized_one_on_a_stable_stream():
    """The simulator's stable stream, hourly windows: the realized precision (from labels)
    falls within the estimate's 95% bounds in most windows, and the estimate is unbiased."""
    start = 1.8e9
    generator = TrafficGenerator(stable(Behaviour()), start=start, duration=36 * HOUR,
                                 rate_per_hour=4000, seed=11, timestamp_format="epoch")
    spec = DriftSpec.model_validate({"reference": {"kind": "fixed", "first": "4h"},
                                     "window": "1h", "detectors": []})
    run_ = drive(generator, DriftMonitor(spec), None, step=HOUR)
    pairs = [(s.metric.estimate, s.metric.lower, s.metric.upper, s.metric.realized)
             for s in run_.snapshots if s.metric is not None and s.metric.estimate is not None]
    est, lo, hi, real = map(np.array, zip(*pairs))
    assert len(pairs) >= 30
    coverage = np.mean((lo <= real) & (real <= hi))
    assert coverage >= 0.85, coverage
    assert abs(np.mean(est - real)) < 0.01
    assert np.mean(hi - lo) < 0.1                               # and the bounds say something
    assert not any(s.status == "warning" for s in run_.snapshots)

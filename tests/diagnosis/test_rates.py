"""Horvitz-Thompson metric and effective sample size of the report's breakdowns."""

from __future__ import annotations

import numpy as np
import pytest

from slo.diagnosis.rates import compare_rates, metric_rate
from slo.diagnosis.slices import add_label_cell
from slo.intervals import Bounds


def cells_of(labels):
    """labels: (flagged, positive, review probability) per reviewed prediction."""
    cells = np.zeros((2, 6))
    for flagged, positive, p in labels:
        add_label_cell(cells[int(flagged)], positive, 1.0 / p)
    return cells


def test_recall_weights_each_label_by_its_inverse_review_probability():
    # 90 flagged positives reviewed at 1; 2 unflagged positives reviewed at 0.05 stand for 40
    cells = cells_of([(True, True, 1.0)] * 90 + [(False, True, 0.05)] * 2 + [(False, False, 0.05)] * 50)
    rate = metric_rate(cells, "recall")
    assert rate.estimate == pytest.approx(90 / 130)
    assert rate.labels == 92
    # 92 reviewed labels, 2 of them misses weighing 20 hits each: the interval is Wilson's on
    # 2 of 92 mapped back through that ratio (as the SLO engine's)
    assert rate.effective_n == pytest.approx(92) and rate.miss_ratio == pytest.approx(20)
    low, high = Bounds("wilson").interval(2 / 92, 92, 0.95)
    assert rate.lower == pytest.approx((1 - high) / ((1 - high) + 20 * high))
    assert rate.upper == pytest.approx((1 - low) / ((1 - low) + 20 * low))
    assert rate.lower < 0.4 < rate.estimate < rate.upper < 0.9


def test_a_recall_slice_with_no_reviewed_false_negative_is_not_certainly_perfect():
    # 60 true positives, 100 unflagged reviews at 2% none of them positive
    cells = cells_of([(True, True, 1.0)] * 60 + [(False, False, 0.02)] * 100)
    rate = metric_rate(cells, "recall")
    assert rate.estimate == 1.0 and rate.miss_ratio == pytest.approx(50)
    assert rate.lower < 0.5, "one reviewed miss would have stood for fifty"
    worse = metric_rate(cells_of([(True, True, 1.0)] * 60 + [(False, True, 0.02)] * 1
                                 + [(False, False, 0.02)] * 99), "recall")
    assert worse.estimate == pytest.approx(60 / 110)
    assert compare_rates(rate, worse) > 0.05, "one reviewed miss is no evidence of a difference"
    # with no unflagged prediction reviewed, recall is unknown (as in the engine), not 1.0
    blind = metric_rate(cells_of([(True, True, 1.0)] * 60), "recall")
    assert blind.estimate is None and compare_rates(blind, worse) == 1.0


def test_precision_ignores_unflagged_labels_and_compares_on_effective_counts():
    good = metric_rate(cells_of([(True, True, 1.0)] * 97 + [(True, False, 1.0)] * 3
                                + [(False, True, 0.05)] * 5), "precision")
    bad = metric_rate(cells_of([(True, True, 1.0)] * 80 + [(True, False, 1.0)] * 20), "precision")
    assert good.estimate == pytest.approx(0.97) and good.labels == 100
    assert compare_rates(good, bad) < 0.001
    assert compare_rates(good, good) == pytest.approx(1.0)
    empty = metric_rate(np.zeros((2, 6)), "precision")
    assert empty.estimate is None and compare_rates(good, empty) == 1.0

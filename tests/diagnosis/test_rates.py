"""Horvitz-Thompson metric and effective sample size of the report's breakdowns."""

from __future__ import annotations

import numpy as np
import pytest

from slo.diagnosis.rates import compare_rates, metric_rate
from slo.diagnosis.slices import add_label_cell


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
    # Kish: (90 + 40)^2 / (90 + 2 * 400) = 18.99: the two heavy labels count for little
    assert rate.effective_n == pytest.approx(130 ** 2 / 890)
    assert rate.lower < rate.estimate < rate.upper


def test_precision_ignores_unflagged_labels_and_compares_on_effective_counts():
    good = metric_rate(cells_of([(True, True, 1.0)] * 97 + [(True, False, 1.0)] * 3
                                + [(False, True, 0.05)] * 5), "precision")
    bad = metric_rate(cells_of([(True, True, 1.0)] * 80 + [(True, False, 1.0)] * 20), "precision")
    assert good.estimate == pytest.approx(0.97) and good.labels == 100
    assert compare_rates(good, bad) < 0.001
    assert compare_rates(good, good) == pytest.approx(1.0)
    empty = metric_rate(np.zeros((2, 6)), "precision")
    assert empty.estimate is None and compare_rates(good, empty) == 1.0

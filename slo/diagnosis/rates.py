"""The SLO metric from label cells, with Horvitz-Thompson weights, and tests between two groups.

Cells are (2, LABEL_FIELDS) sums per flagged group (slo/diagnosis/slices.py). Precision's
population is the flagged group; recall's is the truly positive labels. The estimate, its
effective number of labels and its 95% interval are the SLO engine's (slo/estimators.py): a
binomial interval on the misses among the reviewed labels, mapped back through how much more a
miss weighs than a hit, so a recall slice with no reviewed false negative is not reported as
certainly perfect. Two groups are compared on their miss shares among reviewed labels at a
common miss weight (their geometric mean).

>>> cells = np.zeros((2, 6)); cells[1] = [90, 10, 90, 10, 90, 10]   # 90 TP, 10 FP, weight 1
>>> r = metric_rate(cells, "precision"); r.estimate, r.labels, r.effective_n
(0.9, 100, 100.0)
>>> other = np.zeros((2, 6)); other[1] = [60, 40, 60, 40, 60, 40]
>>> compare_rates(r, metric_rate(other, "precision")) < 1e-4
True
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from slo.drift.stattests import two_proportions
from slo.drift.window import N_NEG, N_POS, W_NEG, W_POS, label_counts
from slo.estimators import estimate, share_among_reviewed
from slo.intervals import Bounds

_WILSON = Bounds("wilson")


@dataclass(frozen=True)
class Rate:
    """One group's metric: HT estimate, labels in its population, effective number of labels."""

    estimate: float | None
    labels: int
    effective_n: float
    hits: float            # HT-weighted hits
    total: float           # HT-weighted population
    lower: float | None = None    # Wilson 95%, as the SLO engine's status shows it
    upper: float | None = None
    miss_ratio: float = 1.0       # a miss's weight over a hit's

    def to_record(self) -> dict:
        return asdict(self)


def metric_rate(cells: np.ndarray, metric: str) -> Rate:
    """Precision (hits = TP among flagged) or recall (hits = TP among positives) of `cells`."""
    counts = label_counts(cells, metric)
    e = estimate(counts, metric, 0, _WILSON, 0.95)
    if e.value is None or e.share is None:   # no population, or recall's misses not looked for
        return Rate(None, counts.population, 0.0, 0.0, 0.0)
    return Rate(e.value, counts.population, e.n_eff, counts.hit_weight, counts.weight, e.lower, e.upper,
                e.share.weight_ratio)


def compare_rates(a: Rate, b: Rate) -> float:
    """Two-sided p-value that `a` and `b` have the same rate (on effective counts)."""
    if a.estimate is None or b.estimate is None:
        return 1.0
    ratio = math.sqrt(a.miss_ratio * b.miss_ratio)
    na, nb = max(1, round(a.effective_n)), max(1, round(b.effective_n))
    qa, qb = share_among_reviewed(1.0 - a.estimate, ratio), share_among_reviewed(1.0 - b.estimate, ratio)
    return two_proportions(round(qa * na), na, round(qb * nb), nb).p_value


def confusion(cells: np.ndarray) -> dict[str, dict[str, float]]:
    """Confusion matrix: label counts and HT-weighted counts of TP, FP, FN, TN."""
    cells = np.asarray(cells, dtype=float)
    names = {"tp": (1, N_POS, W_POS), "fp": (1, N_NEG, W_NEG),
             "fn": (0, N_POS, W_POS), "tn": (0, N_NEG, W_NEG)}
    return {"labels": {k: int(cells[g, n]) for k, (g, n, _) in names.items()},
            "weighted": {k: float(cells[g, w]) for k, (g, _, w) in names.items()}}

"""The SLO metric from label cells, with Horvitz-Thompson weights, and tests between two groups.

Cells are (2, LABEL_FIELDS) sums per flagged group (slo/diagnosis/slices.py). Precision's
population is the flagged group; recall's is the truly positive labels. The estimate is the
HT-weighted share of hits, as the engine computes it. For tests, weights are turned into Kish's
effective sample size n_eff = (sum w)^2 / sum w^2 and the hits into estimate x n_eff, so a
few heavily weighted labels count for what they are worth, not for their weight.

>>> cells = np.zeros((2, 6)); cells[1] = [90, 10, 90, 10, 90, 10]   # 90 TP, 10 FP, weight 1
>>> r = metric_rate(cells, "precision"); r.estimate, r.labels, r.effective_n
(0.9, 100, 100.0)
>>> other = np.zeros((2, 6)); other[1] = [60, 40, 60, 40, 60, 40]
>>> compare_rates(r, metric_rate(other, "precision")) < 1e-4
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from slo.drift.stattests import two_proportions
from slo.drift.window import N_NEG, N_POS, W2_NEG, W2_POS, W_NEG, W_POS
from slo.intervals import wilson_interval


@dataclass(frozen=True)
class Rate:
    """One group's metric: HT estimate, labels in its population, effective sample size."""

    estimate: float | None
    labels: int
    effective_n: float
    hits: float            # HT-weighted hits
    total: float           # HT-weighted population
    lower: float | None = None    # Wilson 95% on the effective sample
    upper: float | None = None

    def to_record(self) -> dict:
        return asdict(self)


def metric_rate(cells: np.ndarray, metric: str) -> Rate:
    """Precision (hits = TP among flagged) or recall (hits = TP among positives) of `cells`."""
    cells = np.asarray(cells, dtype=float)
    if metric == "precision":
        hit, miss = cells[1, [N_POS, W_POS, W2_POS]], cells[1, [N_NEG, W_NEG, W2_NEG]]
    else:
        hit, miss = cells[1, [N_POS, W_POS, W2_POS]], cells[0, [N_POS, W_POS, W2_POS]]
    labels = int(hit[0] + miss[0])
    total, squares = hit[1] + miss[1], hit[2] + miss[2]
    if total <= 0:
        return Rate(None, labels, 0.0, 0.0, 0.0)
    estimate = float(hit[1] / total)
    n_eff = float(total * total / squares)
    lower, upper = wilson_interval(estimate * n_eff, n_eff)
    return Rate(estimate, labels, n_eff, float(hit[1]), float(total), lower, upper)


def compare_rates(a: Rate, b: Rate) -> float:
    """Two-sided p-value that `a` and `b` have the same rate (on effective counts)."""
    if a.estimate is None or b.estimate is None:
        return 1.0
    na, nb = max(1, round(a.effective_n)), max(1, round(b.effective_n))
    return two_proportions(round(a.estimate * na), na, round(b.estimate * nb), nb).p_value


def confusion(cells: np.ndarray) -> dict[str, dict[str, float]]:
    """Confusion matrix: label counts and HT-weighted counts of TP, FP, FN, TN."""
    cells = np.asarray(cells, dtype=float)
    names = {"tp": (1, N_POS, W_POS), "fp": (1, N_NEG, W_NEG),
             "fn": (0, N_POS, W_POS), "tn": (0, N_NEG, W_NEG)}
    return {"labels": {k: int(cells[g, n]) for k, (g, n, _) in names.items()},
            "weighted": {k: float(cells[g, w]) for k, (g, _, w) in names.items()}}

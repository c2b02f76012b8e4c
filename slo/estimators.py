"""Weighted counts of a window and the estimate built from them.

Why weights: reviewers do not label every prediction, and the sampling is often deliberately
unequal (flagged or uncertain predictions are reviewed more). A reviewed prediction sampled with
probability ``pi`` stands for ``1/pi`` predictions (Horvitz-Thompson), so the window's totals of
true positives and of errors are estimated by summing ``1/pi`` over the reviewed ones, and the
metric is their ratio (``sum w*y / sum w``, the Hajek form of the HT ratio; unbiased up to
O(1/n), unlike the unweighted share, which is biased whenever the review rate depends on the
outcome).

Effective sample size: a weighted sample of n labels carries less information than n
equal-weight labels, so the bounds are Wilson/Clopper-Pearson with the weighted proportion at an
effective sample size ``n_eff = p(1-p) / Var(p_hat)``. The variance is the linearization
(Taylor) variance of the ratio, ``sum w_i^2 (y_i - p_hat)^2 / (sum w_i)^2``, which needs only the
sums of squared weights of hits and of misses. When the weights are unrelated to the outcome
this is Kish's ``(sum w)^2 / sum w^2``; when they are related it is not, and Kish's figure can
be badly off either way: in simulation (tests/slo/test_slo_estimation.py) Kish-based 95% bounds
covered the truth 77% of the time when the rarely reviewed predictions were the worse ones, and
100% in the opposite case; the linearized ones stay near 95% in both. With equal weights both
equal n and the textbook intervals result. When p_hat is 0 or 1 the variance estimate is 0 and
Kish's value is used.

"Population" is the metric's denominator: flagged predictions (predicted == positive label) for
precision, actual positives (label == positive label) for recall. A "hit" is a population member
the model got right (a true positive in both cases); a "miss" is a false positive (precision) or
a false negative (recall).
"""

from __future__ import annotations

from dataclasses import dataclass

from slo.intervals import Bounds


def effective_size(hit_weight: float, miss_weight: float, hit_weight_sq: float,
                   miss_weight_sq: float) -> float:
    """Effective sample size of a weighted proportion from its linearization variance.

    >>> round(effective_size(95.0, 5.0, 95.0, 5.0), 9)          # 100 labels of weight 1
    100.0
    >>> round(effective_size(90.0, 10.0, 90.0, 100.0), 2)   # 90 hits x1, one miss x10
    10.99
    >>> round(kish_effective_size(100.0, 190.0), 2)          # Kish ignores which one is heavy
    52.63
    """
    total = hit_weight + miss_weight
    if total <= 0.0:
        return 0.0
    p = hit_weight / total
    spread = hit_weight_sq * (1.0 - p) ** 2 + miss_weight_sq * p * p
    if spread <= 0.0 or p <= 0.0 or p >= 1.0:
        return kish_effective_size(total, hit_weight_sq + miss_weight_sq)
    return p * (1.0 - p) * total * total / spread


def kish_effective_size(sum_w: float, sum_w2: float) -> float:
    """Kish's effective sample size of a weighted sample.

    >>> kish_effective_size(4.0, 4.0)         # four labels of weight 1
    4.0
    >>> kish_effective_size(1 + 1 + 10, 1 + 1 + 100)   # one heavy weight dominates
    1.411764705882353
    """
    return sum_w * sum_w / sum_w2 if sum_w2 > 0 else 0.0


@dataclass(slots=True)
class WindowCounts:
    """Sums over the buckets of one window (unweighted counts and HT weights).

    Treat as immutable (not frozen: frozen dataclasses are slow to build, and several are built
    per key and evaluation step).
    """

    labels: int = 0           # every joined label in the window
    hits: int = 0             # population labels the model got right
    misses: int = 0           # population labels the model got wrong
    hit_weight: float = 0.0
    miss_weight: float = 0.0
    hit_weight_sq: float = 0.0   # sums of squared weights, of hits and of misses
    miss_weight_sq: float = 0.0
    unflagged: int = 0        # labels on predictions that were not flagged
    predictions: int = 0      # predictions reported with observe_prediction

    @property
    def population(self) -> int:
        """Labels in the metric's denominator."""
        return self.hits + self.misses

    @property
    def weight(self) -> float:
        """Estimated number of population predictions (sum of HT weights)."""
        return self.hit_weight + self.miss_weight

    @property
    def weight_sq(self) -> float:
        """Sum of squared weights over the population."""
        return self.hit_weight_sq + self.miss_weight_sq

    @classmethod
    def from_row(cls, row: list[float]) -> WindowCounts:
        """From a bucket-ring row (see slo/buckets.py for the field order)."""
        return cls(int(row[0]), int(row[1]), int(row[3]), row[2], row[4], row[5], row[6],
                   int(row[7]), int(row[8]))


@dataclass(slots=True)
class Estimate:
    """The metric over one window: point value, effective size, two-sided bounds, sufficiency.

    `value` is None when unknown: no population labels, or recall with no reviewed unflagged
    prediction (its false negatives are then unobserved, and 1.0 would be a guess). Treat as
    immutable.
    """

    counts: WindowCounts
    value: float | None
    n_eff: float
    lower: float | None
    upper: float | None
    sufficient: bool          # at least min_labels population labels (and recall observable)
    why_insufficient: str = ""

    @property
    def error_ratio(self) -> float | None:
        """1 - value: the share of errors (what the budget is spent on)."""
        return None if self.value is None else 1.0 - self.value


def estimate(counts: WindowCounts, metric: str, min_labels: int, bounds: Bounds | None,
             confidence: float) -> Estimate:
    """The estimate of `metric` from a window's counts (bounds two-sided at `confidence`).

    With `bounds` None the bounds are left out (None): windows that only feed burn rates.

    >>> c = WindowCounts(labels=100, hits=95, misses=5, hit_weight=95.0, miss_weight=5.0,
    ...                  hit_weight_sq=95.0, miss_weight_sq=5.0)
    >>> e = estimate(c, "precision", 30, Bounds("wilson"), 0.95)
    >>> round(e.value, 4), round(e.n_eff, 6), round(e.lower, 4), e.sufficient
    (0.95, 100.0, 0.8882, True)
    >>> estimate(WindowCounts(labels=40, hits=40, hit_weight=40.0, hit_weight_sq=40.0), "recall",
    ...          30, Bounds("wilson"), 0.95).why_insufficient
    'no unflagged prediction was reviewed, so missed positives are unobserved'
    """
    population = counts.population
    if population == 0:
        return Estimate(counts, None, 0.0, None, None, False, "no labels in the metric's population")
    if metric == "recall" and counts.unflagged == 0:
        return Estimate(counts, None, 0.0, None, None, False,
                        "no unflagged prediction was reviewed, so missed positives are unobserved")
    total = counts.hit_weight + counts.miss_weight
    value = counts.hit_weight / total
    n_eff = effective_size(counts.hit_weight, counts.miss_weight, counts.hit_weight_sq,
                           counts.miss_weight_sq)
    lower, upper = bounds.interval(value, n_eff, confidence) if bounds else (None, None)
    if population < min_labels:
        return Estimate(counts, value, n_eff, lower, upper, False,
                        f"{population} labels, fewer than min_labels {min_labels}")
    return Estimate(counts, value, n_eff, lower, upper, True)

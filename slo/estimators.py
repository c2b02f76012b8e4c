"""Weighted counts of a window and the estimate built from them.

Why weights: reviewers do not label every prediction, and the sampling is often deliberately
unequal (flagged or uncertain predictions are reviewed more). A reviewed prediction sampled with
probability ``pi`` stands for ``1/pi`` predictions (Horvitz-Thompson), so the window's totals of
true positives and of errors are estimated by summing ``1/pi`` over the reviewed ones, and the
metric is their ratio (``sum w*y / sum w``, the Hajek form of the HT ratio; unbiased up to
O(1/n), unlike the unweighted share, which is biased whenever the review rate depends on the
outcome).

Bounds: the review sample itself is binomial. Each reviewed label of the metric's population is
a miss with some probability ``q``; with hits reviewed at ``pi_h`` and misses at ``pi_m`` the
metric's error rate ``e`` and ``q`` are tied by ``q = e*pi_m / (e*pi_m + (1-e)*pi_h)``, a
monotone map whose only parameter is ``b = pi_h / pi_m``, the weight of a miss over the weight
of a hit. So the bounds are an ordinary binomial interval on the misses among the reviewed
labels, mapped back through ``b`` (`ReviewShare`). This is exact when the review rate is fixed
per class, which is what the usual designs do: recall with every flagged prediction reviewed
and 2% of the others is ``b = 50``, where one reviewed false negative stands for fifty, and a
window with no reviewed false negative still cannot rule out a recall far below 1. (The
linearized n_eff this replaced gave such windows the width of their hit count: its 95%
intervals covered the true recall 12% and 79% of the time in two such designs, and a healthy
recall paged.) When weights
vary within a class, each class enters with Kish's effective count ``(sum w)^2 / sum w^2`` and
its self-weighted mean weight ``sum w^2 / sum w``; tests/slo/test_slo_estimation.py checks the
coverage in both designs.

A window with no miss has no miss weight to read ``b`` from: for recall it is the mean weight of the
reviewed unflagged predictions (where false negatives hide), for precision that of the hits (the
same flagged class). With no hit, ``b`` is taken as 1, which widens the upper bound when hits
are reviewed more than misses (fewer pages on a window whose every reviewed positive was
missed, none lost: its upper bound is still far below any objective).

"Population" is the metric's denominator: flagged predictions (predicted == positive label) for
precision, actual positives (label == positive label) for recall. A "hit" is a population member
the model got right (a true positive in both cases); a "miss" is a false positive (precision) or
a false negative (recall).
"""

from __future__ import annotations

from dataclasses import dataclass

from slo.intervals import Bounds


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
    unflagged_weight: float = 0.0   # summed weight of those labels (what a false negative weighs)

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
                   int(row[7]), int(row[8]), row[9])


def share_among_reviewed(error_rate: float, ratio: float) -> float:
    """The miss share among reviewed labels at `error_rate`, a miss weighing `ratio` hits (the
    inverse of `ReviewShare.metric_at`).

    >>> share_among_reviewed(0.05, 1.0), round(share_among_reviewed(0.05, 50.0), 6)
    (0.05, 0.001052)
    """
    return error_rate / (error_rate + ratio * (1.0 - error_rate))


@dataclass(slots=True)
class ReviewShare:
    """The misses among a window's reviewed population labels, and the map back to the metric.

    A reviewed population label is a miss with probability ``q``; `misses` of `labels` is its
    binomial count (Kish-effective when weights vary within a class), and `weight_ratio` ``b``
    (a miss's weight over a hit's) maps a share ``q`` to the metric, ``(1-q) / ((1-q) + b*q)``.

    >>> share = ReviewShare(misses=1.0, labels=98.0, weight_ratio=50.0)   # recall, 2% of unflagged reviewed
    >>> round(share.metric_at(1 / 98), 4)                     # the point estimate: 97 / (97 + 50)
    0.6599
    >>> b = Bounds("clopper-pearson")
    >>> round(share.metric_at(b.upper(1 / 98, 98, 0.975)), 3), round(share.metric_at(b.lower(1 / 98, 98, 0.975)), 3)
    (0.254, 0.987)
    """

    misses: float
    labels: float
    weight_ratio: float

    @property
    def share(self) -> float:
        return self.misses / self.labels if self.labels > 0.0 else 0.0

    def metric_at(self, share: float) -> float:
        """The metric whose reviewed labels would miss at rate `share`."""
        kept = 1.0 - share
        return kept / (kept + self.weight_ratio * share) if kept > 0.0 else 0.0

    def upper(self, bounds: Bounds, confidence: float) -> float:
        """One-sided upper bound of the metric (from the lower bound of the miss share)."""
        return self.metric_at(bounds.lower(self.share, self.labels, confidence))

    def lower(self, bounds: Bounds, confidence: float) -> float:
        """One-sided lower bound of the metric (from the upper bound of the miss share)."""
        return self.metric_at(bounds.upper(self.share, self.labels, confidence))

    def interval(self, bounds: Bounds, confidence: float) -> tuple[float, float]:
        """Two-sided interval of the metric at `confidence`."""
        low, high = bounds.interval(self.share, self.labels, confidence)
        return self.metric_at(high), self.metric_at(low)


def review_share(counts: WindowCounts, metric: str, known_ratio: float | None = None) -> ReviewShare:
    """The window's `ReviewShare`. ``b`` comes from its hits' and misses' weights; without one of
    them, from `known_ratio` if given, else from the fallbacks in the module docstring.

    >>> review_share(WindowCounts(hits=95, misses=5, hit_weight=95.0, miss_weight=5.0,
    ...                           hit_weight_sq=95.0, miss_weight_sq=5.0), "precision")
    ReviewShare(misses=5.0, labels=100.0, weight_ratio=1.0)
    >>> review_share(WindowCounts(hits=97, hit_weight=97.0, hit_weight_sq=97.0, unflagged=90,
    ...                           unflagged_weight=4500.0), "recall")
    ReviewShare(misses=0.0, labels=97.0, weight_ratio=50.0)
    """
    hit_n = kish_effective_size(counts.hit_weight, counts.hit_weight_sq)
    miss_n = kish_effective_size(counts.miss_weight, counts.miss_weight_sq)
    # self-weighted mean weights (squares checked too: a decayed baseline's underflow first)
    hit_w = counts.hit_weight_sq / counts.hit_weight if counts.hit_weight_sq > 0.0 else None
    miss_w = counts.miss_weight_sq / counts.miss_weight if counts.miss_weight_sq > 0.0 else None
    if hit_w is not None and miss_w is not None:
        ratio = miss_w / hit_w
    elif known_ratio is not None:
        ratio = known_ratio
    elif hit_w is not None and metric == "recall" and counts.unflagged > 0:
        ratio = (counts.unflagged_weight / counts.unflagged) / hit_w
    else:
        ratio = 1.0
    return ReviewShare(miss_n, hit_n + miss_n, ratio)


@dataclass(slots=True)
class Estimate:
    """The metric over one window: point value, effective size, two-sided bounds, sufficiency.

    `value` is None when unknown: no population labels, or recall with no reviewed unflagged
    prediction (its false negatives are then unobserved, and 1.0 would be a guess). Treat as
    immutable.
    """

    counts: WindowCounts
    value: float | None
    n_eff: float              # effective number of population labels behind the bounds
    lower: float | None
    upper: float | None
    sufficient: bool          # at least min_labels population labels (and recall observable)
    why_insufficient: str = ""
    share: ReviewShare | None = None   # None when value is None

    @property
    def error_ratio(self) -> float | None:
        """1 - value: the share of errors (what the budget is spent on)."""
        return None if self.value is None else 1.0 - self.value

    def upper_bound(self, bounds: Bounds, confidence: float) -> float:
        """One-sided upper bound of the metric at `confidence` (1.0 when unknown)."""
        return 1.0 if self.share is None else self.share.upper(bounds, confidence)


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
    share = review_share(counts, metric)
    lower, upper = share.interval(bounds, confidence) if bounds else (None, None)
    if population < min_labels:
        return Estimate(counts, value, share.labels, lower, upper, False,
                        f"{population} labels, fewer than min_labels {min_labels}", share)
    return Estimate(counts, value, share.labels, lower, upper, True, "", share)

"""Sequential tests on the error stream, label by label: two Bernoulli CUSUMs and a baseline.

Windowed rules need a window full of labels and re-test it every minute (a scan statistic, whose
false-alarm rate grows with the number of looks). A CUSUM instead accumulates the log-likelihood
ratio of "error rate p1" against "error rate p0" over every label exactly once, as the label
arrives, forgets good stretches (it never drops below 0), and alarms when the evidence reaches
`threshold` nats. Its false-alarm rate is set per label, not per look: while the error rate stays
at or below p0 the average run length to a false alarm is at least ``e^threshold`` labels
(Lorden 1971; far more when the true rate is below p0), whatever the evaluation cadence; the
detection delay is about ``threshold / KL`` labels, KL the expected increment at the new rate.

The tracker runs two of them (slo/tracker.py):

- `sequential` (p0 = the error budget, p1 = `shift` x budget): a collapse well past the
  objective. ARL >= e^threshold labels while the SLO is met.
- `trend` (`TrendTest`: p0 = a high upper confidence bound of the key's own usual error rate,
  from `ErrorBaseline`; one chart per p1 in 1, 1.5 and 3 x the budget): the error rate has moved
  from its usual level up to the budget or beyond, a slow decline that will breach or a
  collapse. ARL >= e^threshold labels while the key's error rate stays at its usual level (p0
  is an upper bound at 99%, so estimating it does not make the test optimistic).

Weighted labels (review sampling): each reviewed label enters once, and the charts judge it in
the review sample's own terms. When a miss carries ``b`` times a hit's weight (recall with every
flagged and 2% of the other predictions reviewed: b = 50), an error rate ``e`` shows among the
reviewed labels as the miss share ``q = e / (e + b(1-e))`` (slo/estimators.py), so `set_ratio`
moves the hypotheses there. (Weighting each label instead, rescaled to Kish's n_eff per step,
shrank the rare heavy misses with the many light hits and hid a recall drop.)

>>> c = BernoulliCusum(0.05, 0.15, threshold=16.0)
>>> for i in range(250):                     # 15% errors: KL ~0.070 nats per label
...     _ = c.add(i % 20 < 3)
>>> c.alarm, round(c.statistic, 2)
(True, 19.38)
>>> for _ in range(300):                     # a long good stretch resets it
...     _ = c.add(False)
>>> c.statistic
0.0
"""

from __future__ import annotations

import math

from slo.estimators import ReviewShare, WindowCounts, review_share, share_among_reviewed
from slo.intervals import Bounds

_WILSON = Bounds("wilson")


class BernoulliCusum:
    """One-sided CUSUM for an increase of a Bernoulli error rate from `p0` to `p1`.

    `p0` and `p1` are the metric's error rates; with `set_ratio` the labels are judged at the
    miss shares those rates show among reviewed labels.
    """

    __slots__ = ("p0", "p1", "threshold", "statistic", "ratio", "_log_error", "_log_success")

    def __init__(self, p0: float, p1: float, threshold: float):
        if threshold <= 0.0:
            raise ValueError("need threshold > 0")
        self.threshold = threshold
        self.statistic = 0.0
        self.ratio = 1.0
        self.set_rates(p0, p1)

    def __setstate__(self, state) -> None:
        _, slots = state if isinstance(state, tuple) else (None, state)
        for name, value in slots.items():
            object.__setattr__(self, name, value)
        if not hasattr(self, "ratio"):   # pickled before review-space charts
            self.ratio = 1.0

    @classmethod
    def for_budget(cls, budget: float, shift: float, threshold: float) -> BernoulliCusum:
        """Budget against `shift` x budget (capped halfway between the budget and 1)."""
        if not 0.0 < budget < 1.0 or shift <= 1.0:
            raise ValueError("need 0 < budget < 1, shift > 1")
        return cls(budget, min(shift * budget, (1.0 + budget) / 2.0), threshold)

    def set_rates(self, p0: float, p1: float) -> None:
        """Change the hypotheses (the statistic is kept)."""
        if not 0.0 < p0 < p1 < 1.0:
            raise ValueError(f"need 0 < p0 < p1 < 1, got p0={p0!r}, p1={p1!r}")
        self.p0, self.p1 = p0, p1
        self._set_log_terms()

    def set_ratio(self, ratio: float) -> None:
        """A miss now weighs `ratio` hits (1: equal review rates); the statistic is kept."""
        if not ratio > 0.0 or math.isinf(ratio):
            raise ValueError(f"need a positive finite ratio, got {ratio!r}")
        if ratio != self.ratio:
            self.ratio = ratio
            self._set_log_terms()

    def _set_log_terms(self) -> None:
        q0, q1 = share_among_reviewed(self.p0, self.ratio), share_among_reviewed(self.p1, self.ratio)
        self._log_error = math.log(q1 / q0)
        self._log_success = math.log1p(-q1) - math.log1p(-q0)

    def add(self, error: bool) -> float:
        """Add one label; return the statistic."""
        step = self._log_error if error else self._log_success
        self.statistic = max(0.0, self.statistic + step)
        return self.statistic

    def reset(self) -> None:
        """Forget the evidence (re-arm after an alert resolved)."""
        self.statistic = 0.0

    @property
    def alarm(self) -> bool:
        """True while the statistic is at or above the threshold."""
        return self.statistic >= self.threshold

    def kl_per_label(self, error_rate: float) -> float:
        """Expected statistic drift per label at a true `error_rate` (negative: no alarm).

        >>> c = BernoulliCusum.for_budget(0.05, 3.0, 16.0)
        >>> round(c.kl_per_label(0.15), 4), c.kl_per_label(0.05) < 0
        (0.0703, True)
        """
        share = share_among_reviewed(error_rate, self.ratio)
        return share * self._log_error + (1.0 - share) * self._log_success


class TrendTest:
    """Multi-chart CUSUM: the key's usual error rate p0 against each of `shifts` x the budget.

    One chart per alternative (the budget itself for slow declines, larger multiples for
    collapses, where a chart tuned to the budget is slow). Each chart alarms at `threshold` +
    ln(number of charts), so by the union bound the false-alarm rate of the whole test is at most
    that of one chart at `threshold`: ARL >= e^threshold labels while the rate stays at p0.
    `statistic` is the largest chart's evidence less that correction. The alarm latches: on when
    a chart reaches its threshold, off once `statistic` is back to half the threshold (the same
    margin the alert policy needs to resolve), so a single good label after the alarm does not
    hide it while other rules' conditions (the tracker's approach gate) catch up.

    >>> t = TrendTest(budget=0.05, shifts=(1.0, 3.0), threshold=12.0)
    >>> t.set_usual(0.03)
    >>> for i in range(203):                 # 15% errors
    ...     _ = t.add(i % 20 < 3)
    >>> round(t.statistic, 2), t.alarm       # capped at the threshold
    (12.0, True)
    """

    __slots__ = ("budget", "shifts", "threshold", "charts", "latched")

    def __init__(self, budget: float, shifts: tuple[float, ...], threshold: float):
        if not 0.0 < budget < 1.0 or not shifts or min(shifts) < 1.0 or threshold <= 0.0:
            raise ValueError("need 0 < budget < 1, shifts >= 1, threshold > 0")
        self.budget = budget
        self.shifts = tuple(shifts)
        self.threshold = threshold
        self.charts: list[BernoulliCusum] = []
        self.latched = False

    @property
    def p0(self) -> float | None:
        """The usual error rate the charts test against (None before `set_usual`)."""
        return self.charts[0].p0 if self.charts else None

    def set_usual(self, p0: float) -> None:
        """Test against the usual error rate `p0` (below the budget); statistics are kept."""
        cap = (1.0 + self.budget) / 2.0
        p1s = [min(shift * self.budget, cap) for shift in self.shifts]
        if not self.charts:
            extra = math.log(len(p1s))
            self.charts = [BernoulliCusum(p0, p1, self.threshold + extra) for p1 in p1s]
        else:
            for chart, p1 in zip(self.charts, p1s):
                chart.set_rates(p0, p1)

    def set_ratio(self, ratio: float) -> None:
        """A miss now weighs `ratio` hits (see BernoulliCusum.set_ratio)."""
        for chart in self.charts:
            chart.set_ratio(ratio)

    def add(self, error: bool) -> float:
        """Add one label to every chart; return the statistic.

        Each chart is capped at its threshold: the alarm holds while the evidence does, and
        once the errors are back at the usual level it clears in a bounded number of labels
        (half the threshold over the drift), however long the episode lasted.
        """
        for chart in self.charts:
            if chart.add(error) >= chart.threshold:
                chart.statistic = chart.threshold
                self.latched = True
        statistic = self.statistic
        if self.latched and statistic <= self.threshold / 2.0:
            self.latched = False
        return statistic

    @property
    def statistic(self) -> float:
        if not self.charts:
            return 0.0
        return max(0.0, max(c.statistic for c in self.charts) - math.log(len(self.charts)))

    @property
    def alarm(self) -> bool:
        return self.latched

    def reset(self) -> None:
        for chart in self.charts:
            chart.reset()
        self.latched = False


class ErrorBaseline:
    """The key's usual error rate: weighted labels decayed with time constant `memory` seconds.

    Exponential forgetting (a week by default) follows slow legitimate change; a decline over
    hours moves it little. Its `upper` bound is the trend test's p0, taken like a window's
    (slo/estimators.py): on the misses among the reviewed labels, mapped back through the
    weight of a miss over a hit.

    >>> b = ErrorBaseline(memory=7 * 86400.0)
    >>> for i in range(10000):
    ...     b.add(60.0 * i, i % 100 < 3)
    >>> round(b.rate, 4), round(b.n_eff), round(b.upper(0.99), 4)
    (0.0299, 9253, 0.0342)
    """

    __slots__ = ("memory", "hit_weight", "hit_weight_sq", "miss_weight", "miss_weight_sq",
                 "last_time")

    def __init__(self, memory: float):
        if memory <= 0.0:
            raise ValueError("need memory > 0")
        self.memory = memory
        self.hit_weight = self.hit_weight_sq = self.miss_weight = self.miss_weight_sq = 0.0
        self.last_time: float | None = None

    def __setstate__(self, state) -> None:
        _, slots = state if isinstance(state, tuple) else (None, state)
        if "hit_weight" not in slots:   # pickled before hits and misses were kept apart: refill
            slots = {"memory": slots["memory"], "last_time": None}
            self.hit_weight = self.hit_weight_sq = self.miss_weight = self.miss_weight_sq = 0.0
        for name, value in slots.items():
            object.__setattr__(self, name, value)

    def add(self, t: float, error: bool, weight: float = 1.0) -> None:
        """One label reviewed at `t` (epoch seconds) with HT weight `weight`."""
        if self.last_time is None:
            self.last_time = t
        elif t > self.last_time:
            keep = math.exp((self.last_time - t) / self.memory)
            self.hit_weight *= keep
            self.miss_weight *= keep
            self.hit_weight_sq *= keep * keep
            self.miss_weight_sq *= keep * keep
            self.last_time = t
        if error:
            self.miss_weight += weight
            self.miss_weight_sq += weight * weight
        else:
            self.hit_weight += weight
            self.hit_weight_sq += weight * weight

    def _share(self, ratio: float | None) -> ReviewShare:
        counts = WindowCounts(hit_weight=self.hit_weight, miss_weight=self.miss_weight,
                              hit_weight_sq=self.hit_weight_sq, miss_weight_sq=self.miss_weight_sq)
        return review_share(counts, "precision", known_ratio=ratio)

    @property
    def n_eff(self) -> float:
        """Effective number of labels behind the estimate (decayed)."""
        return self._share(None).labels

    @property
    def rate(self) -> float:
        weight = self.hit_weight + self.miss_weight
        return self.miss_weight / weight if weight > 0.0 else 0.0

    def upper(self, confidence: float, ratio: float | None = None) -> float:
        """One-sided upper bound of the usual error rate; `ratio` (a miss's weight over a hit's)
        stands in while the baseline has no miss or no hit to read it from."""
        return 1.0 - self._share(ratio).lower(_WILSON, confidence)

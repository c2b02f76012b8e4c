"""Bernoulli CUSUM on the error stream: catches a collapse from few labels.

Windowed rules need a window full of labels before they can say anything; a CUSUM accumulates the
log-likelihood ratio of "error rate is `shift` budgets" against "error rate is the budget" label
by label, forgets good stretches (it never drops below 0), and alarms when the evidence reaches
`threshold` nats. Its false-alarm rate is set per label, not per evaluation: at exactly the
objective the average run length is about ``e^threshold`` labels (Wald), far more when the model is
healthier than the objective; the detection delay is about ``threshold / KL`` labels.

The engine feeds it whole event-time buckets once the watermark has passed them (grouped CUSUM);
weighted labels enter as effective counts (weighted counts scaled to Kish's n_eff), so a few
heavily weighted labels do not masquerade as many.

>>> c = BernoulliCusum(budget=0.05, shift=3.0, threshold=16.0)
>>> for _ in range(25):                      # 25 buckets of 10 labels at 15% errors
...     _ = c.update(errors=1.5, successes=8.5)
>>> c.alarm, round(c.statistic, 2)
(True, 17.56)
>>> c.update(errors=0.0, successes=300.0)    # a long good stretch resets it
0.0
"""

from __future__ import annotations

import math


class BernoulliCusum:
    """One-sided CUSUM for an increase of a Bernoulli error rate from `budget` to shift x budget."""

    __slots__ = ("p0", "p1", "threshold", "statistic", "_log_error", "_log_success")

    def __init__(self, budget: float, shift: float, threshold: float):
        if not 0.0 < budget < 1.0 or shift <= 1.0 or threshold <= 0.0:
            raise ValueError("need 0 < budget < 1, shift > 1, threshold > 0")
        self.p0 = budget
        # the alternative must stay a probability: cap it halfway between the budget and 1
        self.p1 = min(shift * budget, (1.0 + budget) / 2.0)
        self.threshold = threshold
        self.statistic = 0.0
        self._log_error = math.log(self.p1 / self.p0)
        self._log_success = math.log((1.0 - self.p1) / (1.0 - self.p0))

    def update(self, errors: float, successes: float) -> float:
        """Add a group of (effective) errors and successes; return the statistic."""
        self.statistic = max(0.0, self.statistic + errors * self._log_error
                             + successes * self._log_success)
        return self.statistic

    def update_weighted(self, miss_weight: float, hit_weight: float, weight_sq: float) -> float:
        """Add a bucket of HT-weighted labels as Kish-effective counts."""
        total = miss_weight + hit_weight
        if total <= 0.0 or weight_sq <= 0.0:
            return self.statistic
        scale = total / weight_sq          # n_eff / total
        return self.update(miss_weight * scale, hit_weight * scale)

    @property
    def alarm(self) -> bool:
        """True while the statistic is at or above the threshold."""
        return self.statistic >= self.threshold

    def kl_per_label(self, error_rate: float) -> float:
        """Expected statistic drift per label at a true `error_rate` (negative: no alarm)."""
        return error_rate * self._log_error + (1.0 - error_rate) * self._log_success

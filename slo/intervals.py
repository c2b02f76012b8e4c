"""Confidence bounds for a proportion: Wilson score and Clopper-Pearson (exact, via scipy's beta quantile).

Both accept a non-integer number of trials, because the engine feeds them Kish-effective counts
of a weighted sample (see slo/estimators.py), and then the "successes" are ``p_hat * n``.

Every paging rule takes Clopper-Pearson (slo/rules.py `EXACT_BOUNDS`): it guarantees at least
nominal coverage for integer counts, and the rules sit in the far tail (99%-99.995%), where
Wilson is optimistic at small counts. Wilson is the default of the bounds *shown* (slo-status,
``interval``): its coverage is close to nominal at the proportions SLOs live at (0.9-0.999) and
at small n (Brown, Cai & DasGupta 2001 recommend it for n < 40 and it stays good above), it never
leaves [0, 1], and it is a closed form. Pick ``interval: clopper-pearson`` for audit-style
reporting where "never over-claim" matters more.

Reference values (statsmodels ``proportion_confint``, alpha 0.05):

>>> [round(b, 10) for b in wilson_interval(95, 100)]
[0.8882495308, 0.9784563208]
>>> [round(b, 10) for b in clopper_pearson_interval(95, 100)]
[0.8871650889, 0.9835681208]
>>> wilson_interval(30, 30)[1], clopper_pearson_interval(0, 30)[0]
(1.0, 0.0)
"""

from __future__ import annotations

import math
from functools import lru_cache

from scipy.special import betaincinv
from scipy.stats import norm


@lru_cache(maxsize=64)
def z_value(confidence: float, sides: int = 2) -> float:
    """Standard normal quantile for a two-sided (``sides=2``) or one-sided confidence level.

    >>> round(z_value(0.95), 4), round(z_value(0.95, sides=1), 4)
    (1.96, 1.6449)
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (got {confidence})")
    return float(norm.ppf(1.0 - (1.0 - confidence) / sides))


def _wilson(p: float, n: float, z: float, upper: bool) -> float:
    if n <= 0:
        return 1.0 if upper else 0.0
    if upper and p >= 1.0:
        return 1.0
    if not upper and p <= 0.0:
        return 0.0
    z2n = z * z / n
    center = (p + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * math.sqrt(max(p * (1.0 - p), 0.0) / n + z2n / (4.0 * n))
    bound = center + half if upper else center - half
    return min(1.0, max(0.0, bound))


def wilson_interval(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Wilson score interval (no continuity correction), like statsmodels' "wilson"."""
    p = successes / n if n > 0 else 0.0
    z = z_value(confidence, 2)
    return _wilson(p, n, z, upper=False), _wilson(p, n, z, upper=True)


def clopper_pearson_interval(successes: float, n: float,
                             confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Clopper-Pearson interval from beta quantiles, like statsmodels' "beta"."""
    alpha = 1.0 - confidence
    return (_cp_lower(successes, n, alpha / 2.0), _cp_upper(successes, n, alpha / 2.0))


_TINY = 1e-9   # a count this close to 0 or n is treated as exactly 0 or n (the quantile overflows)

# The beta quantile is `betaincinv(a, b, q)`, the function `scipy.stats.beta.ppf(q, a, b)` calls
# (Boost's ibeta_inv) without the distribution's argument handling: the same value at ~3 us
# instead of ~60 us, and the engine asks for bounds of every window of every key every minute.


def _cp_lower(x: float, n: float, tail: float) -> float:
    if n <= 0 or x <= _TINY:
        return 0.0
    return float(betaincinv(x, n - x + 1.0, tail))


def _cp_upper(x: float, n: float, tail: float) -> float:
    if n <= 0 or x >= n - _TINY:
        return 1.0
    return float(betaincinv(x + 1.0, n - x, 1.0 - tail))


class Bounds:
    """Bounds of one method at any level, for a proportion `p` out of `n` (possibly n_eff).

    >>> b = Bounds("wilson")
    >>> lo, hi = b.interval(0.9, 20, 0.95)
    >>> round(lo, 10), round(hi, 10)
    (0.6989663548, 0.9721335188)
    >>> b.upper(0.9, 20, 0.975) == hi
    True
    """

    __slots__ = ("method",)

    def __init__(self, method: str = "wilson"):
        if method not in ("wilson", "clopper-pearson"):
            raise ValueError(f"unknown interval method {method!r}")
        self.method = method

    def interval(self, p: float, n: float, confidence: float) -> tuple[float, float]:
        """Two-sided interval at `confidence`."""
        if self.method == "wilson":
            z = z_value(confidence, 2)
            return _wilson(p, n, z, False), _wilson(p, n, z, True)
        return clopper_pearson_interval(p * n, n, confidence)

    def upper(self, p: float, n: float, confidence: float) -> float:
        """One-sided upper bound: the true value is below it with probability `confidence`."""
        if self.method == "wilson":
            return _wilson(p, n, z_value(confidence, 1), True)
        return _cp_upper(p * n, n, 1.0 - confidence)

    def lower(self, p: float, n: float, confidence: float) -> float:
        """One-sided lower bound: the true value is above it with probability `confidence`."""
        if self.method == "wilson":
            return _wilson(p, n, z_value(confidence, 1), False)
        return _cp_lower(p * n, n, 1.0 - confidence)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Bounds) and other.method == self.method

    def __hash__(self) -> int:
        return hash(self.method)

    def __getstate__(self) -> str:
        return self.method

    def __setstate__(self, state: str) -> None:
        self.method = state

"""Population Stability Index with reference quantile bins, and a threshold that knows sample size.

PSI = sum_i (q_i - p_i) ln(q_i / p_i) over bins, p from the reference and q from the current
window. Proportions are smoothed with half a count per bin (p_i = (a_i + 0.5) / (n + 0.5 B)), so
an empty bin gives a large but finite value instead of infinity.

Why not the usual fixed 0.1 / 0.25 cut-offs: PSI is noisy at small samples. With 10 quantile bins
and no drift at all, PSI exceeds 0.1 in about 80% of windows at n = m = 100 and about a third at
n = m = 200, yet almost never at 1000. PSI is the symmetrised Kullback-Leibler divergence, whose
second-order expansion is sum (q - p)^2 / pi; under no drift (p - q) has covariance
(1/n + 1/m)(diag(pi) - pi pi^T), so

    PSI / (1/n + 1/m)  ~  chi-square with B - 1 degrees of freedom   (approximately)

and the threshold with false-alarm rate alpha at sizes n, m and B bins is

    threshold = (1/n + 1/m) * chi2.ppf(1 - alpha, B - 1).

Simulated (tests/drift/test_drift_psi.py), its false-alarm rate at alpha = 0.05 is about 0.045
for n, m >= 200, 0.04 at n = m = 100 and below alpha at smaller sizes (the smoothing shrinks PSI
there, so it errs on the quiet side). Quantile bins from the reference are what makes the
reference proportions near 1/B; ties (discrete features) merge bins, and B is then the number of
distinct bins actually used.

>>> round(psi_threshold(1000, 1000, bins=10, alpha=0.01), 4)    # NOTES.md: about 0.043
0.0433
>>> round(psi_threshold(200, 200, bins=10, alpha=0.05), 4)      # a fixed 0.1 is too low here
0.1692
>>> import numpy as np
>>> round(psi(np.array([50, 50]), np.array([30, 70])), 4)
0.1659
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

PSEUDO_COUNT = 0.5   # added to each bin of both sides before taking proportions


def psi(reference_counts: np.ndarray, current_counts: np.ndarray,
        pseudo_count: float = PSEUDO_COUNT) -> float:
    """PSI between two count vectors over the same bins (smoothed, so always finite)."""
    a = np.asarray(reference_counts, dtype=float) + pseudo_count
    b = np.asarray(current_counts, dtype=float) + pseudo_count
    p, q = a / a.sum(), b / b.sum()
    return float(np.sum((q - p) * np.log(q / p)))


def psi_threshold(n: int, m: int, bins: int, alpha: float) -> float:
    """PSI exceeded with probability about `alpha` under no drift at sizes `n`, `m` (see module)."""
    if bins < 2:
        return float("inf")
    return (1.0 / n + 1.0 / m) * float(stats.chi2.ppf(1.0 - alpha, bins - 1))


def psi_p_value(value: float, n: int, m: int, bins: int) -> float:
    """P(PSI >= value) under no drift, by the same chi-square approximation."""
    if bins < 2:
        return 1.0
    return float(stats.chi2.sf(value / (1.0 / n + 1.0 / m), bins - 1))


def quantile_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges at the reference's quantiles (duplicates from ties merged).

    Edges are observed values (inverse-CDF quantiles), so a discrete feature gets one bin per
    value rather than edges between values.

    Bin i holds values in (edges[i-1], edges[i]]: a point mass at an edge falls in one bin.

    >>> quantile_edges(np.arange(1.0, 101.0), 4)
    array([25., 50., 75.])
    >>> quantile_edges(np.array([0.0] * 50 + [1.0] * 30 + [2.0] * 20), 10)
    array([0., 1., 2.])
    """
    inner = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    return np.unique(np.quantile(reference, inner, method="inverted_cdf"))


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of `values` in the bins of `edges` (len(edges) + 1 bins)."""
    index = np.searchsorted(edges, values, side="left")
    return np.bincount(index, minlength=len(edges) + 1)


@dataclass(frozen=True, slots=True)
class PsiResult:
    """PSI of one feature with its sample-size-aware threshold and p-value."""

    psi: float
    threshold: float        # null (1 - alpha) quantile at these n, m and bins
    p_value: float
    bins: int               # bins used (after merging ties; a missing-value bin counts)
    n: int                  # reference values (missing ones included)
    m: int                  # current values

    @property
    def exceeds(self) -> bool:
        return self.psi > self.threshold


def psi_of_counts(reference_counts: np.ndarray, current_counts: np.ndarray,
                  alpha: float) -> PsiResult:
    """PSI over given bins; bins empty on both sides are dropped (they carry no information)."""
    a = np.asarray(reference_counts, dtype=float)
    b = np.asarray(current_counts, dtype=float)
    used = (a + b) > 0
    a, b = a[used], b[used]
    n, m, k = int(a.sum()), int(b.sum()), int(used.sum())
    value = psi(a, b)
    return PsiResult(value, psi_threshold(n, m, k, alpha), psi_p_value(value, n, m, k), k, n, m)


def numeric_psi(reference: np.ndarray, current: np.ndarray, bins: int, alpha: float) -> PsiResult:
    """PSI of a numeric feature: quantile bins of the reference, plus a bin for missing (NaN)
    values when either side has some (a pipeline that starts sending nulls is drift too).

    >>> rng = np.random.default_rng(0)
    >>> same = numeric_psi(rng.normal(size=2000), rng.normal(size=2000), 10, 0.05)
    >>> same.bins, same.exceeds
    (10, False)
    >>> numeric_psi(rng.normal(size=2000), rng.normal(0.5, 1, size=2000), 10, 0.05).exceeds
    True
    """
    ref_missing, cur_missing = np.isnan(reference), np.isnan(current)
    ref_values, cur_values = reference[~ref_missing], current[~cur_missing]
    if len(ref_values) == 0:
        edges = np.array([])
    else:
        edges = quantile_edges(ref_values, bins)
    a = bin_counts(ref_values, edges)
    b = bin_counts(cur_values, edges)
    if ref_missing.any() or cur_missing.any():
        a = np.append(a, ref_missing.sum())
        b = np.append(b, cur_missing.sum())
    return psi_of_counts(a, b, alpha)

"""One column (a feature or the score) of the reference against the current window.

Each column gets one p-value, from the test suited to its kind, and PSI as the familiar effect
size with its sample-size-aware threshold (slo/drift/psi.py):

- numeric: two-sample KS on the non-missing values (``numeric_test: ks``, the default), or the
  PSI's own p-value (``psi``). A change in the share of missing values is tested too (two
  proportions) and folded in with Bonferroni (p = 2 min(p_ks, p_missing)): a feature that starts
  arriving as null is drift even when the values that do arrive look normal.
- numeric with few distinct values (at most DISCRETE_VALUES, e.g. counts of events): the
  chi-square below on the values as categories, since KS p-values assume no ties and become
  very conservative with them (p near 1 under no drift, so real shifts are missed).
- categorical: two-sample chi-square on the category counts, missing as a category
  (``categorical_test: chi2``), or PSI's p-value (``psi``).

The p-values of all columns then go through Benjamini-Hochberg (slo/drift/fdr.py); a column has
drifted when its adjusted p-value is at most `fdr` and its PSI at least `min_psi`.

>>> import numpy as np
>>> from slo.drift.config import DriftSpec
>>> rng = np.random.default_rng(3)
>>> d = compare_column("amount", "numeric", rng.normal(size=1000), rng.normal(0.3, 1, 800),
...                    DriftSpec())
>>> d.test, d.p_value < 1e-6, round(d.psi, 2), round(d.psi_threshold, 3)
('ks', True, 0.11, 0.038)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from slo.drift.config import DriftSpec
from slo.drift.psi import numeric_psi, psi_of_counts
from slo.drift.stattests import chi_square_homogeneity, ks_two_sample, two_proportions

DISCRETE_VALUES = 20   # a numeric column with at most this many distinct values is tested as counts


@dataclass(frozen=True)
class ColumnDrift:
    """The comparison of one column; `q_value` and `drifted` are filled in after BH."""

    name: str
    kind: str                       # "numeric" | "categorical"
    status: str                     # "tested" | "insufficient_data"
    test: str | None = None         # "ks" | "chi2" | "psi"
    statistic: float | None = None  # KS D, chi-square, or PSI
    p_value: float | None = None
    q_value: float | None = None    # Benjamini-Hochberg adjusted
    psi: float | None = None
    psi_threshold: float | None = None   # PSI exceeded with probability alpha under no drift
    psi_p_value: float | None = None
    bins: int | None = None
    reference_samples: int = 0
    current_samples: int = 0
    missing_reference: float | None = None   # share of missing values
    missing_current: float | None = None
    drifted: bool = False

    def decided(self, q_value: float, fdr: float, min_psi: float) -> ColumnDrift:
        return replace(self, q_value=q_value,
                       drifted=q_value <= fdr and (self.psi or 0.0) >= min_psi)

    def to_record(self) -> dict:
        out = dict(self.__dict__)
        out.pop("name")
        return out


def compare_column(name: str, kind: str, reference: np.ndarray, current: np.ndarray,
                   spec: DriftSpec) -> ColumnDrift:
    """Test one column's reference values against its current values (NaN = missing)."""
    n, m = len(reference), len(current)
    ref_missing, cur_missing = int(np.isnan(reference).sum()), int(np.isnan(current).sum())
    base = ColumnDrift(name, kind, "insufficient_data", reference_samples=n, current_samples=m,
                       missing_reference=ref_missing / n if n else None,
                       missing_current=cur_missing / m if m else None)
    if n < spec.min_samples or m < spec.min_samples or ref_missing + cur_missing == n + m:
        return base
    if kind == "categorical":
        ref_counts, cur_counts = _category_counts(reference, current)
        result = psi_of_counts(ref_counts, cur_counts, spec.alpha)
        if spec.categorical_test == "chi2":
            test = chi_square_homogeneity(ref_counts, cur_counts)
            name_, statistic, p = test.test, test.statistic, test.p_value
        else:
            name_, statistic, p = "psi", result.psi, result.p_value
    else:
        result = numeric_psi(reference, current, spec.bins, spec.alpha)
        if spec.numeric_test == "psi":
            name_, statistic, p = "psi", result.psi, result.p_value
        elif _is_discrete(reference, current):
            test = chi_square_homogeneity(*_category_counts(*_value_codes(reference, current)))
            name_, statistic, p = test.test, test.statistic, test.p_value
        else:
            enough = min(n - ref_missing, m - cur_missing) >= spec.min_samples
            ks = ks_two_sample(reference, current) if enough else None
            name_, statistic = "ks", (ks.statistic if ks else None)
            if ref_missing or cur_missing:
                p_missing = two_proportions(ref_missing, n, cur_missing, m).p_value
                p = min(1.0, 2.0 * min(ks.p_value, p_missing)) if ks else p_missing
            else:
                p = ks.p_value if ks else 1.0
    return replace(base, status="tested", test=name_, statistic=statistic, p_value=p,
                   psi=result.psi, psi_threshold=result.threshold, psi_p_value=result.p_value,
                   bins=result.bins)


def _is_discrete(reference: np.ndarray, current: np.ndarray) -> bool:
    values = np.concatenate([reference, current])
    return len(np.unique(values[~np.isnan(values)])) <= DISCRETE_VALUES


def _value_codes(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct numeric values as category codes 0..k-1 (NaN stays NaN)."""
    values = np.unique(np.concatenate([reference, current]))
    values = values[~np.isnan(values)]

    def code(x: np.ndarray) -> np.ndarray:
        out = np.searchsorted(values, x).astype(float)
        out[np.isnan(x)] = np.nan
        return out

    return code(reference), code(current)


def _category_counts(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts per category code, with missing values as one more category."""
    def codes(values: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(values), -1, values).astype(np.int64)

    a, b = codes(reference), codes(current)
    size = int(max(a.max(initial=-1), b.max(initial=-1))) + 2
    return np.bincount(a + 1, minlength=size), np.bincount(b + 1, minlength=size)

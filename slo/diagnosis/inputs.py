"""Input checks of the report: per-feature drift, upstream breakage, score distribution shift.

Drift reuses the drift monitor's statistics (slo/drift/compare.py `compare_column`: KS or
chi-square with PSI and its sample-size-aware threshold; Benjamini-Hochberg across columns).

Upstream breakage is what a broken pipeline does to a feature, each with a test whose null is
"nothing broke", so the verdict needs more evidence at small samples:

- missing values: the share of nulls rose (two-proportion test, reference vs current);
- unseen categories: values of a categorical feature the reference sample never held. Under
  "same distribution", given that k sampled values are of categories absent from the n
  reference rows, each of them lands in the current m rows with chance m / (n + m), so
  p = (m / (n + m))^k;
- range jump: more than a quarter of the current values lie outside the whole range the
  reference sample spanned (its minimum to its maximum). A unit or scale change moves the bulk
  of the values there (amounts in cents instead of dollars: about 80%); ordinary drift only
  stretches a tail (a shift of 1.5 standard deviations puts about 4% of a normal feature past
  the maximum of 2000 reference values, 2 sd about 7%). One-sided binomial test of that share
  against 1/4, so a handful of values never makes a jump.

A breakage starts abruptly, so when the alert fires it may cover only the end of the SLO
window: each check runs on the whole current window and on its most recent part, and keeps
the smaller p-value doubled (Bonferroni). All upstream p-values of one report then go through
Benjamini-Hochberg together.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> ref, cur = rng.normal(size=500), rng.normal(size=400) * 100
>>> check = range_jump(ref, cur); check["outside"] > 0.9, check["p_value"] < 1e-6
(True, True)
>>> range_jump(ref, rng.normal(1.5, size=400))["p_value"] > 0.5     # drift, not a jump
True
>>> round(unseen_categories(np.array([0., 1.] * 50), np.array([0., 2., 2.]), ["a", "b", "c"])
...       ["p_value"], 4)                                    # (3 / 103) ** 2
0.0008
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from slo.drift.compare import ColumnDrift, compare_column
from slo.drift.config import DriftSpec
from slo.drift.fdr import bh_adjust
from slo.drift.psi import psi_of_counts
from slo.drift.stattests import chi_square_homogeneity, two_proportions

RANGE_SHARE = 0.25     # a "range jump": more than this share of values outside the range


def feature_drift(columns: list[tuple[str, str]], reference: np.ndarray, current: np.ndarray,
                  spec: DriftSpec) -> dict[str, ColumnDrift]:
    """compare_column for each (name, kind) column, then BH across them (drift's rule)."""
    out: dict[str, ColumnDrift] = {}
    for col, (name, kind) in enumerate(columns):
        if kind is None or col >= reference.shape[1] or col >= current.shape[1]:
            continue
        out[name] = compare_column(name, kind, reference[:, col], current[:, col], spec)
    tested = {k: v.p_value for k, v in out.items() if v.p_value is not None}
    for name, q in bh_adjust(tested).items():
        out[name] = out[name].decided(q, spec.fdr, spec.min_psi)
    return out


def missing_rise(reference: np.ndarray, current: np.ndarray) -> dict[str, Any]:
    n, m = len(reference), len(current)
    a, b = int(np.isnan(reference).sum()), int(np.isnan(current).sum())
    p = two_proportions(a, n, b, m).p_value if n and m else 1.0
    ref_share, cur_share = (a / n if n else None), (b / m if m else None)
    rose = ref_share is not None and cur_share is not None and cur_share > ref_share
    return {"check": "missing_values", "reference": ref_share, "current": cur_share,
            "p_value": p if rose else 1.0}


def unseen_categories(reference: np.ndarray, current: np.ndarray,
                      names: list[str]) -> dict[str, Any]:
    ref = reference[~np.isnan(reference)]
    cur = current[~np.isnan(current)]
    known = set(ref.astype(int).tolist())
    new = [int(c) for c in cur if int(c) not in known]
    n, m, k = len(ref), len(cur), len(new)
    p = (m / (n + m)) ** k if k and n + m else 1.0
    values = sorted({names[c] if c < len(names) else str(c) for c in new})
    return {"check": "unseen_categories", "current": k / m if m else None, "count": k,
            "values": values[:10], "p_value": float(p)}


def range_jump(reference: np.ndarray, current: np.ndarray) -> dict[str, Any]:
    ref = reference[~np.isnan(reference)]
    cur = current[~np.isnan(current)]
    if len(ref) < 2 or len(cur) == 0:
        return {"check": "range_jump", "p_value": 1.0, "outside": None}
    lo, hi = ref.min(), ref.max()
    outside = int(((cur < lo) | (cur > hi)).sum())
    p = float(stats.binom.sf(outside - 1, len(cur), RANGE_SHARE)) if outside else 1.0
    return {"check": "range_jump", "reference_range": [float(lo), float(hi)],
            "reference_median": float(np.median(ref)), "current_median": float(np.median(cur)),
            "outside": outside / len(cur), "p_value": p}


def upstream_checks(columns: list[tuple[str, str | None]], reference: np.ndarray,
                    currents: list[np.ndarray], categories: dict[str, list[str]], fdr: float,
                    min_samples: int) -> dict[str, list[dict[str, Any]]]:
    """Missing values, unseen categories and range jumps per feature, BH across all of them.

    `currents`: the current window's sample and samples of its most recent parts; each check
    keeps the one with the smallest p-value, Bonferroni-corrected for their number (its
    `period` says which, 0 = the whole window). Each check gets `q_value` and `found`.
    """
    out: dict[str, list[dict[str, Any]]] = {}
    currents = [c for c in currents if len(c) >= min_samples]
    if len(reference) < min_samples or not currents:
        return out
    for col, (name, kind) in enumerate(columns):
        if kind is None or col >= reference.shape[1]:
            continue
        a = reference[:, col]
        checks = []
        for check in (missing_rise, unseen_categories if kind == "categorical" else range_jump):
            runs = []
            for period, current in enumerate(currents):
                b = current[:, col] if col < current.shape[1] else np.full(len(current), np.nan)
                run = (check(a, b, categories.get(name, [])) if check is unseen_categories
                       else check(a, b))
                runs.append({**run, "period": period})
            best = min(runs, key=lambda r: r["p_value"])
            best["p_value"] = min(1.0, best["p_value"] * len(runs))
            checks.append(best)
        out[name] = checks
    flat = {f"{name}/{i}": c["p_value"] for name, cs in out.items() for i, c in enumerate(cs)}
    adjusted = bh_adjust(flat)
    for name, checks in out.items():
        for i, check in enumerate(checks):
            check["q_value"] = adjusted[f"{name}/{i}"]
            check["found"] = check["q_value"] <= fdr
    return out


def score_shift(reference_hist: np.ndarray, current_hist: np.ndarray, alpha: float
                ) -> dict[str, Any]:
    """Score histograms (equal bins on [0, 1], last bin = no score) of two periods, PSI with its
    sample-size-aware threshold and the two-sample chi-square p-value."""
    a = np.asarray(reference_hist, dtype=float)
    b = np.asarray(current_hist, dtype=float)
    out: dict[str, Any] = {"reference": a.tolist(), "current": b.tolist(), "psi": None,
                           "psi_threshold": None, "p_value": None}
    if a.sum() == 0 or b.sum() == 0:
        return out
    psi = psi_of_counts(a, b, alpha)
    chi = chi_square_homogeneity(a, b)
    out.update(psi=psi.psi, psi_threshold=psi.threshold, p_value=chi.p_value,
               shifted=bool(chi.p_value <= alpha and psi.exceeds))
    return out

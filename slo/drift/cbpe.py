"""Precision (or recall) without labels: a confidence-based performance estimate (CBPE).

Why: labels arrive hours or days late, and only for some predictions; scores arrive at once. If
the relation score -> P(positive) is known, the metric of a window is estimated from its scores
alone: precision = sum over flagged predictions of P(positive | score) / number flagged. The
relation is learned from the reference's labelled predictions, so the estimate answers "what
would precision be if the model were as well calibrated as in the reference". It reacts to a
change in *which* scores the model gives (covariate shift, more borderline flags); it cannot
see a change of P(positive | score) itself (concept drift): only labels can, which is why the
realized metric always wins once a window has enough labels.

Calibration: labels are summed per (flagged group, score bin) with Horvitz-Thompson weights
(1 / review probability, so the rarely reviewed unflagged predictions count for what they stand
for); each group's curve is an isotonic (non-decreasing) fit of the bins' positive rates,
weighted by their effective sizes (scipy.optimize.isotonic_regression), interpolated over empty
bins. Scores are binned on [0, 1] in `score_bins` equal bins, so the state is a fixed-size array.

Uncertainty, by a parametric bootstrap (`draws` replicates, seeded, so a replay gives the same
numbers): each bin's rate is redrawn from its Beta posterior (Jeffreys prior, effective counts)
and the isotonic fit redone; then

- `lower`/`upper`: the interval for the window's *realized* metric, adding the binomial noise of
  the window's own outcomes to the calibration's uncertainty. That is what the estimate can be
  checked against when the labels come in (tests/drift/test_drift_cbpe.py: coverage on a
  stable stream);
- `decline_lower`: a one-sided lower bound of (reference estimate - current estimate), with the
  same calibration draws on both sides (its error cancels) and the two windows' score
  histograms resampled. The composite warning uses it: "the estimate fell, significantly".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import isotonic_regression

from slo.drift.window import FLAGGED, N_NEG, N_POS, UNFLAGGED, W2_NEG, W2_POS, W_NEG, W_POS, label_counts
from slo.estimators import estimate
from slo.intervals import Bounds


def score_bin(score: float | None, bins: int) -> int:
    """The score's bin on [0, 1] (`bins` for a missing score).

    >>> score_bin(0.0, 40), score_bin(0.51, 40), score_bin(1.0, 40), score_bin(None, 40)
    (0, 20, 39, 40)
    """
    if score is None:
        return bins
    i = int(score * bins)
    return min(max(i, 0), bins - 1)


def fit_curve(cells: np.ndarray, rng: np.random.Generator | None = None,
              draws: int = 0) -> np.ndarray | None:
    """P(positive) per score bin for one group from its label sums (bins x fields).

    Returns shape (bins,), or (draws, bins) of bootstrap curves when `rng` is given; None when
    the group has no labels.

    >>> cells = np.zeros((4, 6))
    >>> cells[1, [0, 2, 4]] = 3; cells[1, [1, 3, 5]] = 1      # bin 1: 3 positive, 1 negative
    >>> cells[3, [0, 2, 4]] = 1; cells[3, [1, 3, 5]] = 3      # bin 3: 1 positive, 3 negative
    >>> fit_curve(cells).tolist()                             # pooled: isotonic, then flat
    [0.5, 0.5, 0.5, 0.5]
    """
    weight = cells[:, W_POS] + cells[:, W_NEG]
    used = np.flatnonzero(weight > 0)
    if len(used) == 0:
        return None
    rate = cells[used, W_POS] / weight[used]
    squares = cells[used, W2_POS] + cells[used, W2_NEG]
    n_eff = weight[used] ** 2 / squares
    bins = np.arange(len(cells))
    if rng is None:
        fitted = isotonic_regression(rate, weights=n_eff).x
        return np.interp(bins, used, fitted)
    redrawn = rng.beta(n_eff * rate + 0.5, n_eff * (1.0 - rate) + 0.5, size=(draws, len(used)))
    out = np.empty((draws, len(cells)))
    for r in range(draws):
        out[r] = np.interp(bins, used, isotonic_regression(redrawn[r], weights=n_eff).x)
    return out


def metric_from(curves: np.ndarray, hist: np.ndarray, metric: str) -> np.ndarray:
    """Expected metric from curves (..., 2, bins) and score histograms (..., 2, bins)."""
    tp = np.sum(hist[..., FLAGGED, :] * curves[..., FLAGGED, :], axis=-1)
    if metric == "precision":
        with np.errstate(invalid="ignore", divide="ignore"):
            return tp / np.sum(hist[..., FLAGGED, :], axis=-1)
    fn = np.sum(hist[..., UNFLAGGED, :] * curves[..., UNFLAGGED, :], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return tp / (tp + fn)


@dataclass(frozen=True)
class MetricEstimate:
    """The label-free estimate beside the realized metric of the same window."""

    metric: str
    estimate: float | None          # expected metric of the window's scored predictions
    lower: float | None             # interval for the window's realized metric
    upper: float | None
    reference: float | None         # the same estimate over the reference window
    decline_lower: float | None     # one-sided lower bound of (reference - estimate)
    declined: bool                  # decline_lower > min_decline
    calibration_labels: int         # reference labels the calibration rests on
    realized: float | None          # from the window's labels (HT-weighted)
    realized_lower: float | None
    realized_upper: float | None
    realized_labels: int            # labels in the metric's population
    value: float | None             # realized when it has min_labels, else the estimate
    source: str | None              # "realized" | "estimated" | None
    why: str = ""                   # why there is no estimate
    confidence: float = 0.95        # of the bounds (two-sided) and of decline_lower (one-sided)

    def to_record(self) -> dict:
        return {"metric": self.metric, "estimate": self.estimate, "lower": self.lower,
                "upper": self.upper, "reference": self.reference,
                "decline_lower": self.decline_lower, "declined": self.declined,
                "calibration_labels": self.calibration_labels, "realized": self.realized,
                "realized_lower": self.realized_lower, "realized_upper": self.realized_upper,
                "realized_labels": self.realized_labels, "value": self.value,
                "source": self.source, "why": self.why or None, "confidence": self.confidence}


def estimate_metric(metric: str, calibration: np.ndarray, current_hist: np.ndarray,
                    reference_hist: np.ndarray, current_labels: np.ndarray, *,
                    confidence: float, draws: int, min_labels: int, min_decline: float,
                    rng: np.random.Generator) -> MetricEstimate:
    """Estimate `metric` for the current window and compare it with the reference's.

    `calibration`: the reference's label sums (2, bins + 1, fields); `*_hist`: predictions per
    (group, score bin), (2, bins + 1); `current_labels`: the current window's label sums. The
    last bin ("no score") is left out of the estimate.
    """
    counts = label_counts(current_labels, metric)
    real = estimate(counts, metric, min_labels, Bounds("wilson"), confidence)
    scored = calibration[:, :-1]
    calibration_labels = int(scored[..., N_POS].sum() + scored[..., N_NEG].sum())
    bins = current_hist.shape[1] - 1
    h_cur = current_hist[:, :bins].astype(float)
    h_ref = reference_hist[:, :bins].astype(float)
    needed = (FLAGGED,) if metric == "precision" else (UNFLAGGED, FLAGGED)
    curves = [fit_curve(calibration[g, :bins]) for g in (UNFLAGGED, FLAGGED)]

    def result(est=None, lo=None, hi=None, ref=None, decline=None, why=""):
        declined = decline is not None and decline > min_decline
        if real.sufficient:
            value, source = real.value, "realized"
        elif est is not None:
            value, source = est, "estimated"
        else:
            value, source = real.value, ("realized" if real.value is not None else None)
        return MetricEstimate(metric, est, lo, hi, ref, decline, declined, calibration_labels,
                              real.value, real.lower, real.upper, counts.population, value,
                              source, why, confidence)

    missing = [g for g in needed if curves[g] is None]
    if missing:
        group = "flagged" if FLAGGED in missing else "unflagged"
        return result(why=f"no labelled {group} predictions in the reference to calibrate on")
    if not all(h_cur[g].sum() > 0 for g in needed):
        return result(why="no scored predictions in the current window")
    point = np.array([c if c is not None else np.zeros(bins) for c in curves])
    est = float(metric_from(point, h_cur, metric))
    ref_ok = all(h_ref[g].sum() > 0 for g in needed)
    ref = float(metric_from(point, h_ref, metric)) if ref_ok else None

    boot = np.zeros((draws, 2, bins))
    for g in needed:
        boot[:, g] = fit_curve(calibration[g, :bins], rng, draws)
    # the window's realized metric: its own outcomes on top of the calibration's uncertainty
    outcomes = rng.binomial(h_cur.astype(np.int64), np.clip(boot, 0.0, 1.0)).astype(float)
    tp = outcomes[:, FLAGGED].sum(axis=1)
    if metric == "precision":
        realized = tp / h_cur[FLAGGED].sum()
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            realized = tp / (tp + outcomes[:, UNFLAGGED].sum(axis=1))
        realized = realized[np.isfinite(realized)]
    tail = (1.0 - confidence) / 2.0
    lo, hi = (float(q) for q in np.quantile(realized, [tail, 1.0 - tail]))
    decline = None
    if ref is not None:
        diffs = (metric_from(boot, _resample(h_ref, rng, draws), metric)
                 - metric_from(boot, _resample(h_cur, rng, draws), metric))
        diffs = diffs[np.isfinite(diffs)]
        decline = float(np.quantile(diffs, 1.0 - confidence)) if len(diffs) else None
    return result(est, lo, hi, ref, decline)


def _resample(hist: np.ndarray, rng: np.random.Generator, draws: int) -> np.ndarray:
    """Multinomial redraws of each group's histogram (the window's sampling noise)."""
    out = np.zeros((draws,) + hist.shape)
    for g in range(hist.shape[0]):
        total = int(hist[g].sum())
        if total:
            out[:, g] = rng.multinomial(total, hist[g] / total, size=draws)
    return out

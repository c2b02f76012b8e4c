"""The simulated fraud-like binary model and the world it scores, at one instant.

`Behaviour` holds the knobs a scenario may move over time (precision, recall, review sampling,
label delay, feature drift, traffic); `Population` holds what stays fixed (segment mix, score
shapes, feature distributions, reviewers). The `draw_*` functions turn per-event knob values into
random outcomes, vectorised with numpy so days of traffic take seconds. Nothing here knows about
Kafka or time ordering.

How ground truth meets the targets: a flagged prediction is truly positive with probability
`precision`; an unflagged one with probability q = f*P*(1-R) / (R*(1-f)) (f = flagged rate), so
that in expectation FN = TP*(1-R)/R and the realized recall converges to R.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Mapping

import numpy as np

POSITIVE = 1  # the flagged class; predicted_label and label are ints 1/0


@dataclass(frozen=True)
class Behaviour:
    """Knobs of the model and its review process. All numeric so scenarios can ramp them."""

    precision: float = 0.97                   # P(true positive | flagged)
    recall: float = 0.90                      # P(flagged | truly positive)
    flagged_rate: float = 0.02                # share of predictions flagged
    review_probability_flagged: float = 1.0   # chance a flagged prediction is reviewed
    review_probability_unflagged: float = 0.05
    label_delay_median: float = 120.0         # seconds from prediction to review (lognormal)
    label_delay_sigma: float = 0.8            # lognormal shape; 0 gives a fixed delay
    label_delay_min: float = 1.0
    label_delay_max: float = 3600.0
    amount_shift: float = 0.0                 # shift of log(amount), in its standard deviations
    account_age_shift: float = 0.0            # log-scale shift of account_age_days
    txn_count_shift: float = 0.0              # log-scale shift of txn_count_24h's mean
    traffic_multiplier: float = 1.0           # scales the prediction rate
    # upstream breakage and a bad reviewer (issue 7's triage causes); all off by default
    amount_scale: float = 1.0                 # amount arrives multiplied (a unit change: 100 = cents)
    account_age_null_rate: float = 0.0        # extra share of account_age_days sent as null
    unseen_category_rate: float = 0.0         # share of merchant_category sent as UNSEEN_CATEGORY
    bad_reviewer_flip_rate: float = 0.0       # the first reviewer records the wrong class this often

    def __post_init__(self) -> None:
        checks = [
            (0 < self.precision <= 1, "precision must be in (0, 1]"),
            (0 < self.recall <= 1, "recall must be in (0, 1]"),
            (0 < self.flagged_rate < 1, "flagged_rate must be in (0, 1)"),
            (0 < self.review_probability_flagged <= 1, "review_probability_flagged must be in (0, 1]"),
            (0 < self.review_probability_unflagged <= 1, "review_probability_unflagged must be in (0, 1]"),
            (self.label_delay_median >= 0, "label_delay_median must be >= 0"),
            (self.label_delay_sigma >= 0, "label_delay_sigma must be >= 0"),
            (0 <= self.label_delay_min <= self.label_delay_max, "need 0 <= label_delay_min <= label_delay_max"),
            (self.traffic_multiplier >= 0, "traffic_multiplier must be >= 0"),
            (self.amount_scale > 0, "amount_scale must be > 0"),
            (0 <= self.account_age_null_rate <= 1, "account_age_null_rate must be in [0, 1]"),
            (0 <= self.unseen_category_rate <= 1, "unseen_category_rate must be in [0, 1]"),
            (0 <= self.bad_reviewer_flip_rate <= 1, "bad_reviewer_flip_rate must be in [0, 1]"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"{message} (got {self})")
        if unflagged_positive_rate(self.flagged_rate, self.precision, self.recall) > 1:
            raise ValueError(
                f"recall {self.recall} is unreachable at flagged_rate {self.flagged_rate} and "
                f"precision {self.precision}: it needs more positives than there are unflagged predictions"
            )

    def with_(self, **changes: float) -> "Behaviour":
        """A copy with some knobs changed (validated)."""
        return replace(self, **changes)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


BEHAVIOUR_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Behaviour))


def unflagged_positive_rate(flagged_rate, precision, recall):
    """P(truly positive | unflagged) that makes recall converge to `recall` (works on arrays)."""
    return flagged_rate * precision * (1.0 - recall) / (recall * (1.0 - flagged_rate))


def _default_segments() -> dict[str, dict[str, float]]:
    return {
        "country": {"US": 0.40, "GB": 0.15, "DE": 0.12, "FR": 0.10, "IN": 0.08, "BR": 0.07,
                    "CA": 0.05, "JP": 0.03},
        "channel": {"web": 0.50, "app": 0.40, "pos": 0.10},
    }


@dataclass(frozen=True)
class Population:
    """What does not change during a run: who transacts, how scores and features look."""

    segments: Mapping[str, Mapping[str, float]] = field(default_factory=_default_segments)
    score_threshold: float = 0.5   # flagged iff score >= threshold, so score agrees with the label
    # Beta shapes of the score within its side of the threshold; true positives score higher
    # than false positives, false negatives higher than true negatives, so score carries signal.
    score_beta: Mapping[str, tuple[float, float]] = field(default_factory=lambda: {
        "tp": (6.0, 2.0), "fp": (2.0, 4.0), "fn": (4.0, 2.5), "tn": (1.2, 10.0)})
    merchant_categories: tuple[str, ...] = (
        "grocery", "electronics", "travel", "gaming", "fashion", "crypto")
    merchant_weights_negative: tuple[float, ...] = (0.35, 0.15, 0.15, 0.10, 0.22, 0.03)
    merchant_weights_positive: tuple[float, ...] = (0.05, 0.30, 0.15, 0.20, 0.10, 0.20)
    account_age_missing_rate: float = 0.03  # guest checkouts: features may be null
    reviewers: tuple[str, ...] = (
        "alice", "bilal", "chen", "dara", "emeka", "farah", "goran", "hana")
    diurnal_amplitude: float = 0.3   # traffic swings +-30% over the day
    peak_hour_utc: float = 15.0

    def __post_init__(self) -> None:
        if not 0 <= self.diurnal_amplitude < 1:
            raise ValueError("diurnal_amplitude must be in [0, 1)")
        if not 0 < self.score_threshold < 1:
            raise ValueError("score_threshold must be in (0, 1)")
        for key, weights in self.segments.items():
            if not weights or min(weights.values()) < 0 or sum(weights.values()) <= 0:
                raise ValueError(f"segment {key!r} needs positive weights")

    def diurnal(self, times: np.ndarray) -> np.ndarray:
        """Traffic multiplier by UTC time of day; averages 1 over a day."""
        hours = (times % 86400.0) / 3600.0
        return 1.0 + self.diurnal_amplitude * np.sin(2 * np.pi * (hours - self.peak_hour_utc + 6.0) / 24.0)


FEATURE_NAMES: tuple[str, ...] = ("amount", "account_age_days", "txn_count_24h", "merchant_category")
UNSEEN_CATEGORY = "mcc_unmapped"   # what a broken upstream mapping sends as merchant_category


def draw_segments(rng: np.random.Generator, n: int, population: Population) -> dict[str, np.ndarray]:
    """Segment values (numpy str arrays) drawn independently per key from their weights."""
    out = {}
    for key, weights in population.segments.items():
        values = np.array(list(weights.keys()))
        p = np.array(list(weights.values()), dtype=float)
        out[key] = values[rng.choice(len(values), size=n, p=p / p.sum())]
    return out


@dataclass
class Outcomes:
    """Random outcomes for n predictions (parallel arrays)."""

    flagged: np.ndarray              # int8 1/0: the model's decision
    truth: np.ndarray                # int8 1/0: the true class a reviewer will find
    score: np.ndarray                # float in [0, 1], >= threshold iff flagged
    features: dict[str, np.ndarray]  # FEATURE_NAMES; account_age_days is NaN when missing
    review_probability: np.ndarray   # stamped on the prediction
    review_draw: np.ndarray          # uniform draw: reviewed iff draw < review probability
    label_delay: np.ndarray          # seconds from prediction to its label
    reviewer: np.ndarray             # index into Population.reviewers
    label: np.ndarray | None = None  # int8 1/0: the class the reviewer records (truth unless wrong)

    def __post_init__(self) -> None:
        if self.label is None:
            self.label = self.truth


def draw_outcomes(rng: np.random.Generator, params: Mapping[str, np.ndarray],
                  population: Population) -> Outcomes:
    """Decisions, ground truth, scores, features and review plans given per-event knob values.

    The draws happen in a fixed order and all of them every time (even for events that will not
    be reviewed), so the same seed gives the same stream whatever review overrides happen later.
    """
    n = len(params["precision"])
    flagged = rng.random(n) < params["flagged_rate"]
    p_positive = np.where(
        flagged, params["precision"],
        np.minimum(1.0, unflagged_positive_rate(params["flagged_rate"], params["precision"], params["recall"])))
    truth = rng.random(n) < p_positive

    thr = population.score_threshold
    score = np.empty(n)
    for name, mask, low, width in (("tp", flagged & truth, thr, 1 - thr), ("fp", flagged & ~truth, thr, 1 - thr),
                                   ("fn", ~flagged & truth, 0.0, thr), ("tn", ~flagged & ~truth, 0.0, thr)):
        a, b = population.score_beta[name]
        score[mask] = low + width * rng.beta(a, b, size=int(mask.sum()))
    score = np.round(score, 4)
    score = np.where(flagged, np.clip(score, thr, 1.0), np.clip(score, 0.0, thr - 1e-4))

    features = draw_features(rng, truth, params, population)

    review_probability = np.where(flagged, params["review_probability_flagged"],
                                  params["review_probability_unflagged"])
    review_draw = rng.random(n)
    delay = params["label_delay_median"] * np.exp(params["label_delay_sigma"] * rng.standard_normal(n))
    delay = np.clip(delay, params["label_delay_min"], params["label_delay_max"])
    reviewer = rng.integers(len(population.reviewers), size=n)
    outcomes = Outcomes(flagged.astype(np.int8), truth.astype(np.int8), score, features,
                        review_probability, review_draw, delay, reviewer)
    apply_breakage(rng, outcomes, params)
    return outcomes


def apply_breakage(rng: np.random.Generator, outcomes: Outcomes,
                   params: Mapping[str, np.ndarray]) -> None:
    """Upstream breakage and the bad reviewer, drawn after everything else and only when a
    knob is on, so scenarios without them give exactly the streams they always gave.

    The bad reviewer is the first of `Population.reviewers`; a wrong label is the other class.
    """
    n = len(outcomes.truth)
    features = outcomes.features
    if np.any(params["amount_scale"] != 1.0):
        features["amount"] = np.round(features["amount"] * params["amount_scale"], 2)
    if np.any(params["account_age_null_rate"] > 0):
        age = features["account_age_days"].copy()
        age[rng.random(n) < params["account_age_null_rate"]] = np.nan
        features["account_age_days"] = age
    if np.any(params["unseen_category_rate"] > 0):
        merchant = features["merchant_category"].astype(object)
        merchant[rng.random(n) < params["unseen_category_rate"]] = UNSEEN_CATEGORY
        features["merchant_category"] = merchant.astype(str)
    if np.any(params["bad_reviewer_flip_rate"] > 0):
        wrong = (outcomes.reviewer == 0) & (rng.random(n) < params["bad_reviewer_flip_rate"])
        outcomes.label = np.where(wrong, 1 - outcomes.truth, outcomes.truth).astype(np.int8)


def draw_features(rng: np.random.Generator, truth: np.ndarray, params: Mapping[str, np.ndarray],
                  population: Population) -> dict[str, np.ndarray]:
    """Model inputs: fraud skews to larger amounts, younger accounts, bursts and risky merchants."""
    n = len(truth)
    pos = truth.astype(bool)
    amount_sd = 1.1
    log_amount = np.where(pos, 4.6, 3.6) + amount_sd * (params["amount_shift"] + rng.standard_normal(n))
    amount = np.round(np.exp(log_amount), 2)

    age = rng.exponential(np.where(pos, 90.0, 700.0)) * np.exp(params["account_age_shift"])
    age = np.round(age, 1)
    age[rng.random(n) < population.account_age_missing_rate] = np.nan

    txn = rng.poisson(np.where(pos, 6.0, 2.0) * np.exp(params["txn_count_shift"]))

    cats = np.array(population.merchant_categories)
    w_neg = np.cumsum(population.merchant_weights_negative)
    w_pos = np.cumsum(population.merchant_weights_positive)
    u = rng.random(n)
    idx = np.where(pos, np.searchsorted(w_pos / w_pos[-1], u, side="right"),
                   np.searchsorted(w_neg / w_neg[-1], u, side="right"))
    merchant = cats[np.minimum(idx, len(cats) - 1)]
    return {"amount": amount, "account_age_days": age, "txn_count_24h": txn, "merchant_category": merchant}

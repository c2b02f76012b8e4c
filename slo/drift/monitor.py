"""One model's drift monitor: predictions and joined labels in, a `DriftSnapshot` per evaluation.

The flow holds one `DriftMonitor` per (SLO, model) with a ``drift:`` block and calls:

- `observe_prediction(event_time, score, flagged, features, key=None)` for each prediction:
  O(1) amortised (counts, a score histogram cell, a sampled row now and then, river detectors);
- `observe_joined(record, positive, flagged)` for each label joined to its prediction: O(1);
- `evaluate(watermark)` once per hour or every few minutes of event time: compares the current
  window (the `window` of prediction time ending at the last whole bucket before the watermark)
  with the reference; costs a few milliseconds per feature (scipy on samples of a few thousand)
  plus the bootstrap of the estimate.

Time is only ever event time handed in; nothing reads the clock. State is bounded (buckets with
fixed-size samples and histograms; see slo/drift/window.py) and picklable, so the flow can
snapshot it for recovery; `evaluate` is deterministic given the state and the watermark (the
bootstrap is seeded with the window's end), so a replay gives the same snapshots.

>>> import random
>>> from slo.drift.config import DriftSpec
>>> spec = DriftSpec.model_validate({"reference": {"kind": "fixed", "first": "2h"},
...                                  "window": "1h", "min_samples": 50})
>>> monitor = DriftMonitor(spec)
>>> rng = random.Random(7)
>>> for i in range(3 * 3600 // 5):                      # 3 hours, one prediction per 5 s
...     t = 1.8e9 + 5 * i
...     shift = 2.0 if t >= 1.8e9 + 2 * 3600 else 0.0  # the amount jumps after the baseline
...     score = rng.random()
...     _ = monitor.observe_prediction(t, score, score > 0.9, {"amount": rng.gauss(shift, 1)})
>>> snap = monitor.evaluate(1.8e9 + 3 * 3600)
>>> snap.status, snap.drifted, snap.score.drifted
('drift', ('amount',), False)
>>> record = snap.to_record()
>>> record["features"]["amount"]["test"], record["reference"]["kind"]
('ks', 'fixed')
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from schemas.joined import JoinedRecord
from slo.drift.cbpe import MetricEstimate, estimate_metric, score_bin
from slo.drift.compare import ColumnDrift, compare_column
from slo.drift.composite import CompositeResult, RateChange, composite, names
from slo.drift.config import DriftSpec
from slo.drift.detectors import StreamDetector
from slo.drift.fdr import bh_adjust
from slo.drift.features import SCORE, FeatureCodec
from slo.drift.reference import make_reference
from slo.drift.stattests import two_proportions
from slo.drift.window import BucketRing, WindowData
from slo.durations import parse_duration
from schemas.timestamps import format_event_time as rfc3339

AHEAD = parse_duration("2h")   # default `ahead`: as the SLO tracker (slo/defaults.py AHEAD)


@dataclass(frozen=True)
class DriftSnapshot:
    """The result of one evaluation; `to_record()` gives the JSON fields for slo-status."""

    event_time: float
    status: str            # ok | drift | warning | insufficient_data | reference_pending
    reason: str
    window: dict[str, Any]
    reference: dict[str, Any]
    features: dict[str, ColumnDrift] = field(default_factory=dict)
    score: ColumnDrift | None = None
    drifted: tuple[str, ...] = ()          # drifted features (the score is in score.drifted)
    metric: MetricEstimate | None = None
    flagged_rate: RateChange | None = None
    detectors: tuple[dict[str, Any], ...] = ()
    warning: CompositeResult | None = None
    dropped: dict[str, int] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        """JSON-ready (plain floats, None for NaN or infinity), times as RFC 3339."""
        record = {
            "event_time": rfc3339(self.event_time), "status": self.status, "reason": self.reason,
            "window": _times(self.window), "reference": _times(self.reference),
            "features": {k: v.to_record() for k, v in self.features.items()},
            "score": self.score.to_record() if self.score else None,
            "drifted": list(self.drifted),
            "score_drifted": bool(self.score and self.score.drifted),
            "estimated_metric": self.metric.to_record() if self.metric else None,
            "flagged_rate": self.flagged_rate.to_record() if self.flagged_rate else None,
            "detectors": [_times(d, ("last_detection",)) for d in self.detectors],
            "warning": self.warning.to_record() if self.warning else None,
            "dropped": dict(self.dropped),
        }
        return plain_json(record)


class DriftMonitor:
    """Drift tests, label-free estimate, river detectors and the composite rule for one model.

    `metric` ("precision" | "recall") and `min_labels` come from the SLO: the realized metric
    is reported (and preferred) once the current window has `min_labels` labels in its
    population. `seed` makes the row sampling reproducible when predictions carry no `key`.
    `ahead` (seconds): events this far past the last evaluated watermark are dropped and
    counted, so one wild timestamp cannot push real data out of the bounded buckets; evaluate
    at least that often in event time (the flow's lateness plus the usual skew fits in it).
    """

    def __init__(self, config: DriftSpec, metric: str = "precision", min_labels: int = 30,
                 seed: int = 0, ahead: int = AHEAD):
        if metric not in ("precision", "recall"):
            raise ValueError(f"unknown metric {metric!r}: expected precision or recall")
        if seed < 0:
            raise ValueError("seed must be >= 0")
        self.config = config
        self.metric = metric
        self.min_labels = min_labels
        self.seed = seed
        self.codec = FeatureCodec(config.max_features, config.max_categories, config.categorical,
                                  config.features)
        width = config.bucket_seconds
        count = config.window // width
        per_bucket = max(16, math.ceil(1.5 * config.sample_size / count))
        self.ahead = ahead
        self.current = BucketRing(width, count + math.ceil(ahead / width) + 2, per_bucket,
                                  config.score_bins, label_bins=1)
        self.reference = make_reference(config.reference, config.reference_sample_size,
                                        config.score_bins, current_window=config.window,
                                        ahead=ahead, min_predictions=config.min_samples)
        self.detectors = [StreamDetector(d.stream, d.kind, dict(d.params))
                          for d in config.detectors]
        self._rng = random.Random(seed)
        self.watermark: float | None = None
        self.dropped_ahead = 0      # predictions and labels too far past the watermark
        self.dropped_late = 0       # predictions older than the current window

    # --- input ---------------------------------------------------------------------------

    def observe_prediction(self, event_time: float, score: float | None, flagged: bool,
                           features: Mapping[str, Any] | None = None,
                           key: str | None = None) -> None:
        """Count one prediction; `flagged`: its predicted label is the SLO's positive label.

        `key` (e.g. the prediction id) gives the prediction the same sampling priority on
        every run (a hash), instead of the next number of the seeded generator, so which rows
        are sampled does not depend on how many predictions came before it.
        """
        if self.watermark is not None and event_time >= self.watermark + self.ahead:
            self.dropped_ahead += 1
            return
        if score is not None and not math.isfinite(score):
            score = None            # the schema forbids it; never let one value break a bin
        priority = sample_priority(key) if key is not None else self._rng.random()
        group = 1 if flagged else 0
        cell = score_bin(score, self.config.score_bins)
        row = None
        current = self.current.bucket_at(event_time)
        if current is None:
            self.dropped_late += 1
        for bucket in (current, self.reference.bucket_at(event_time)):
            if bucket is None:
                continue
            bucket.n += 1
            bucket.flagged += group
            bucket.hist[group, cell] += 1
            if bucket.sample.admits(priority):
                if row is None:
                    row = self.codec.encode(score, features)
                bucket.sample.add(priority, row)
        for detector in self.detectors:
            if detector.stream == "flagged_rate":
                detector.update(float(group), event_time)
            elif detector.stream == "score" and score is not None:
                detector.update(float(score), event_time)

    def observe_joined(self, record: JoinedRecord, positive: bool, flagged: bool) -> None:
        """Count one label joined to its prediction (`positive`: the label is the positive
        class; `flagged`: the prediction was). Filed under the prediction's event time."""
        t = record.predicted_at
        if self.watermark is not None and t >= self.watermark + self.ahead:
            self.dropped_ahead += 1
            return
        group = 1 if flagged else 0
        cell = score_bin(record.score, self.config.score_bins)
        weight = record.weight
        for bucket in (self.current.bucket_at(t), self.reference.bucket_at(t, prediction=False)):
            if bucket is not None:
                bucket.add_label(group, cell, positive, weight)
        in_population = flagged if self.metric == "precision" else positive
        if in_population:
            miss = 0.0 if (flagged and positive) else 1.0
            for detector in self.detectors:
                if detector.stream == "error":
                    detector.update(miss, record.labeled_at)

    # --- evaluation ----------------------------------------------------------------------

    def evaluate(self, watermark: float) -> DriftSnapshot:
        """Compare the current window ending at `watermark` (rounded down to a bucket) with
        the reference."""
        cfg = self.config
        self.watermark = watermark if self.watermark is None else max(self.watermark, watermark)
        width = self.current.width
        stop = int(watermark // width)
        first = stop - cfg.window // width
        self.current.evict_before(first)
        columns = len(self.codec.columns)
        cur = self.current.window(first, stop, columns, cfg.sample_size)
        ref = self.reference.window(first * width, watermark, columns)
        window = {"start": cur.start, "end": cur.end, "predictions": cur.n,
                  "samples": cur.sample_size}
        detectors = tuple(d.state() for d in self.detectors)
        dropped = {"late": self.dropped_late, "ahead": self.dropped_ahead,
                   "features_ignored": self.codec.ignored,
                   "values_mismatched": self.codec.mismatched}
        if ref is None:
            reference = self.reference.describe()
            return DriftSnapshot(watermark, "reference_pending", _pending_reason(reference),
                                 window, reference, detectors=detectors, dropped=dropped)
        reference = {**self.reference.describe(), "predictions": ref.n,
                     "samples": ref.sample_size}

        compared = self._compare(ref, cur)
        tested = {k: v for k, v in compared.items() if v.p_value is not None}
        adjusted = bh_adjust({k: v.p_value for k, v in tested.items()})
        for name, q in adjusted.items():
            compared[name] = compared[name].decided(q, cfg.fdr, cfg.min_psi)
        score = compared.pop(SCORE)
        drifted = tuple(k for k, v in compared.items() if v.drifted)

        rule = cfg.warning
        metric = estimate_metric(
            self.metric, ref.labels, cur.hist, ref.hist, cur.labels, confidence=cfg.confidence,
            draws=cfg.bootstrap, min_labels=self.min_labels,
            min_decline=rule.min_decline if rule else 0.0,
            rng=np.random.default_rng([self.seed, abs(stop)]))
        rate = _rate_change(ref, cur, cfg.alpha, rule.min_rate_change if rule else 0.25)
        named = list(drifted) + (["the model score"] if score.drifted else [])
        counted = list(drifted) + (["the model score"]
                                   if score.drifted and rule and rule.count_score else [])
        warning = (composite(rule, counted, metric, rate, self.detectors, cur.start)
                   if rule else None)

        if warning is not None and warning.active:
            status, reason = "warning", warning.reason
        elif named:
            status, reason = "drift", f"{names(named)} drifted"
            if warning is not None:
                reason += (f" ({warning.reason})" if warning.proxies
                           else ", but no proxy of the metric got worse")
        elif not tested:
            status = "insufficient_data"
            reason = (f"fewer than {cfg.min_samples} sampled predictions in the current window "
                      f"or the reference ({cur.sample_size} and {ref.sample_size})")
        else:
            status, reason = "ok", "no feature or score drifted beyond its threshold"
        return DriftSnapshot(watermark, status, reason, window, reference, compared, score,
                             drifted, metric, rate, detectors, warning, dropped)

    def _compare(self, ref: WindowData, cur: WindowData) -> dict[str, ColumnDrift]:
        out: dict[str, ColumnDrift] = {}
        for col, name in enumerate(self.codec.columns):
            kind = self.codec.kind(col)
            if kind is None:        # never seen with a value: nothing to compare
                continue
            out[name] = compare_column(name, kind, ref.sample[:, col], cur.sample[:, col],
                                       self.config)
        return out

    # --- inspection ----------------------------------------------------------------------

    def state_bytes(self) -> int:
        """Size of the pickled state (what a recovery snapshot stores)."""
        import pickle
        return len(pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL))


def sample_priority(key: str) -> float:
    """A uniform number in [0, 1) from a key, the same on every run."""
    digest = hashlib.blake2b(key.encode(), digest_size=7).digest()
    return int.from_bytes(digest, "big") / 2.0 ** 56


def _rate_change(ref: WindowData, cur: WindowData, alpha: float, min_change: float
                 ) -> RateChange | None:
    if ref.n == 0 or cur.n == 0:
        return None
    r, c = ref.flagged / ref.n, cur.flagged / cur.n
    p = two_proportions(ref.flagged, ref.n, cur.flagged, cur.n).p_value
    return RateChange(c, r, p, p < alpha and abs(c - r) >= min_change * r)


def _pending_reason(reference: dict[str, Any]) -> str:
    if reference["kind"] == "fixed":
        if reference["end"] is None:
            return "the fixed reference starts with the first prediction; none seen yet"
        return f"the fixed reference runs until {rfc3339(reference['end'])}"
    return "the trailing reference holds too few predictions yet"


def _times(d: dict[str, Any], keys: tuple[str, ...] = ("start", "end")) -> dict[str, Any]:
    return {k: (rfc3339(v) if k in keys and v is not None else v) for k, v in d.items()}


def plain_json(value: Any) -> Any:
    """Plain JSON types: numpy scalars to Python, NaN and infinities to None."""
    if isinstance(value, dict):
        return {k: plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value

"""`DiagnosticSketch`: the compact state one SLO keeps so a diagnostic report can be written
when an alert opens, without re-reading Kafka.

The flow calls, per SLO (flows/engine_state.py):

- `observe_prediction(prediction)` for each prediction of the SLO's model: O(1) amortised;
- `observe_joined(record)` for each label joined to its prediction: O(1);
- `observe_status(snapshot)` for each evaluation step's status of any of the SLO's keys;
- `summary(alert, drift_record)` when an alert triggers: the report's data (JSON-ready), with
  the triage verdict. A few tens of milliseconds (scipy on samples of a few thousand rows).

Time is event time only: predictions and labels are filed under the prediction's time in
slices of `width` seconds (default a quarter of the SLO window); statuses give the watermark.
At alert time t the *current* period is the SLO window's slices up to t (the one t falls in
included); the *reference* is the `reference_span` before it, without the slices a breached
status (or an open alert) covered: the healthy period before the alert. If that leaves fewer than `min_samples`
predictions, all slices of the span are used and the report says so.

Replays give the same summary when the flow calls `observe_joined` in the order the engine
applies labels (by review time, up to the evaluated step) and `summary` at the step that
raised the alert: then the sketch holds exactly the labels the engine had, and predictions
count only up to the alert's time.

Memory is bounded (see `state_bound_bytes`): at most `capacity` slices, each with bottom-k
samples of `k_all` rows of all predictions and `k_flagged` of flagged ones (score plus at most
`max_features` features, float32), histograms, and label cells for at most `max_values` values
of each dimension (versions, reviewers, up to `max_segment_keys` segment keys); a timeline of at
most `timeline_horizon / step` points for the model key and at most `timeline_keys` segment
keys (preferring those that were unhealthy last); the last `recent_false_positives` false
positives and the features of the last `recent_flagged` flagged predictions. tests/diagnosis/test_sketch_memory.py measures it.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from typing import Any

import numpy as np

from schemas.events import Prediction
from schemas.joined import JoinedRecord
from schemas.labels import same_class
from schemas.timestamps import format_event_time
from slo.diagnosis.breakdowns import against_rest, segment_contributions, without
from slo.diagnosis.inputs import feature_drift, score_shift, upstream_checks
from slo.diagnosis.rates import Rate, compare_rates, confusion, metric_rate
from slo.diagnosis.slices import DELAY_EDGES, Slice, delay_bin, merge_groups
from slo.diagnosis.timeline import Timeline
from slo.diagnosis.triage import triage
from slo.drift.cbpe import score_bin
from slo.drift.config import DriftSpec
from slo.drift.features import SCORE, FeatureCodec
from slo.drift.monitor import plain_json, sample_priority
from slo.drift.window import WindowData, merge
from slo.snapshots import AlertEvent, StatusSnapshot
from slo.spec import SloSpec

AHEAD = 2 * 3600            # events this far past the last status are dropped (as the engine)
UNKNOWN = "unknown"         # a prediction without model_version, a label without reviewer
RECENT_SLICES = 2           # the recent part of the window that upstream checks also test
MAX_FEATURE_VALUE = 64      # characters kept of a string feature in the recent false positives


class DiagnosticSketch:
    """Bounded, picklable diagnostic state of one SLO (see the module docstring)."""

    def __init__(self, spec: SloSpec, *, reference_span: float = 6 * 3600,
                 width: float | None = None, k_all: int = 128, k_flagged: int = 64,
                 score_bins: int = 20, max_features: int = 32, max_categories: int = 64,
                 max_values: int = 32, max_segment_keys: int = 8, sample_cap: int = 4000,
                 timeline_horizon: float = 24 * 3600, timeline_keys: int = 8,
                 recent_false_positives: int = 20, recent_flagged: int = 256,
                 ahead: float = AHEAD, drift: DriftSpec | None = None) -> None:
        self.spec = spec
        self.drift = drift or getattr(spec, "drift", None) or DriftSpec()
        self.width = float(width or max(60, spec.window // 4))
        self.reference_span = float(reference_span)
        self.capacity = math.ceil((reference_span + spec.window + ahead) / self.width) + 2
        self.k_all, self.k_flagged, self.score_bins = k_all, k_flagged, score_bins
        self.max_values, self.max_segment_keys = max_values, max_segment_keys
        self.sample_cap = sample_cap
        self.ahead = ahead
        self.codec = FeatureCodec(max_features, max_categories, self.drift.categorical,
                                  self.drift.features)
        self.slices: dict[int, Slice] = {}
        self.top: int | None = None              # highest slice index created
        self.watermark: float | None = None
        self.timeline_step = max(60.0, spec.window / 30)
        self.timeline_horizon = timeline_horizon
        self.timeline_keys = timeline_keys
        self.timelines: OrderedDict[str, Timeline] = OrderedDict()
        self.first_seen: dict[str, float] = {}   # model version -> first prediction time
        self.false_positives: deque[dict[str, Any]] = deque(maxlen=recent_false_positives)
        self.flagged_features: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.recent_flagged = recent_flagged
        self.dropped = {"late": 0, "ahead": 0, "other_model": 0}

    # --- input ---------------------------------------------------------------------------

    def _slice(self, t: float, create: bool = True) -> Slice | None:
        if self.watermark is not None and t >= self.watermark + self.ahead:
            self.dropped["ahead"] += 1
            return None
        i = int(t // self.width)
        found = self.slices.get(i)
        if found is not None:
            return found
        if self.top is not None and i <= self.top - self.capacity:
            self.dropped["late"] += 1
            return None
        if not create:
            return None
        self.slices[i] = found = Slice(self.k_all, self.k_flagged, self.score_bins)
        if self.top is None or i > self.top:
            self.top = i
            for old in [j for j in self.slices if j <= i - self.capacity]:
                del self.slices[old]
        return found

    def _flagged(self, label: Any) -> bool:
        return same_class(label, self.spec.positive_label)

    def observe_prediction(self, prediction: Prediction) -> None:
        """Count one prediction (filed under its event time); other models' are ignored."""
        if prediction.model_id != self.spec.model_id:
            self.dropped["other_model"] += 1
            return
        t = prediction.timestamp
        s = self._slice(t)
        if s is None:
            return
        flagged = self._flagged(prediction.predicted_label)
        group = int(flagged)
        score = prediction.score
        cell = score_bin(score, self.score_bins)
        priority = sample_priority(prediction.prediction_id)
        row = None
        for bucket in ((s.all, s.flagged) if flagged else (s.all,)):
            bucket.n += 1
            bucket.flagged += group
            bucket.hist[group, cell] += 1
            if bucket.sample.admits(priority):
                if row is None:
                    row = self.codec.encode(score, prediction.features)
                bucket.sample.add(priority, row)
        version = prediction.model_version or UNKNOWN
        s.table("version", self.max_values).add_prediction(version, flagged)
        if version in self.first_seen:
            self.first_seen[version] = min(self.first_seen[version], t)
        elif len(self.first_seen) < self.max_values:
            self.first_seen[version] = t
        for key, value in list(prediction.segment.items())[: self.max_segment_keys]:
            s.table(f"segment:{key}", self.max_values).add_prediction(value, flagged)
        if flagged:
            self.flagged_features[prediction.prediction_id] = _compact(prediction.features,
                                                                       self.codec.max_features)
            while len(self.flagged_features) > self.recent_flagged:
                self.flagged_features.popitem(last=False)

    def observe_joined(self, record: JoinedRecord) -> None:
        """Count one label joined to its prediction (filed under the prediction's time)."""
        if record.model_id != self.spec.model_id:
            self.dropped["other_model"] += 1
            return
        s = self._slice(record.predicted_at, create=True)
        if s is None:
            return
        flagged = self._flagged(record.predicted_label)
        positive = self._flagged(record.label)
        group, weight = int(flagged), record.weight
        delay = max(0.0, record.label_delay)
        s.all.add_label(group, 0, positive, weight)
        s.table("version", self.max_values).add_label(record.model_version or UNKNOWN, group,
                                                      positive, weight, delay)
        s.table("reviewer", self.max_values).add_label(record.reviewer or UNKNOWN, group,
                                                       positive, weight, delay)
        for key, value in list(record.segment.items())[: self.max_segment_keys]:
            s.table(f"segment:{key}", self.max_values).add_label(value, group, positive,
                                                                 weight, delay)
        s.delays[delay_bin(delay)] += 1
        if flagged and not positive:
            self.false_positives.append({
                "prediction_id": record.prediction_id, "predicted_at": record.predicted_at,
                "labeled_at": record.labeled_at, "score": record.score,
                "model_version": record.model_version, "segment": dict(record.segment),
                "reviewer": record.reviewer,
                "features": self.flagged_features.get(record.prediction_id)})

    def observe_status(self, snapshot: StatusSnapshot) -> None:
        """Keep the key's timeline point; advance the watermark; mark unhealthy slices."""
        t = snapshot.event_time
        self.watermark = t if self.watermark is None else max(self.watermark, t)
        key = snapshot.key.dedup_key
        timeline = self._timeline_for(key, snapshot)
        if timeline is not None:
            timeline.add(t, snapshot.estimate, snapshot.lower, snapshot.upper, snapshot.state,
                         snapshot.burn_rates)
        if snapshot.state == "breached" or snapshot.alert_id is not None:
            for i in range(int((t - self.spec.window) // self.width), int(t // self.width) + 1):
                if i in self.slices:
                    self.slices[i].unhealthy = True

    def _timeline_for(self, key: str, snapshot: StatusSnapshot) -> Timeline | None:
        """The key's timeline. The model key always has one; of the segment keys, at most
        `timeline_keys` do: first come, and an unhealthy key takes the place of the one that
        has been healthy longest (so the keys an alert can be about are the ones kept)."""
        unhealthy = snapshot.state in ("at_risk", "breached") or snapshot.alert_id is not None
        timeline = self.timelines.get(key)
        if timeline is not None:
            if unhealthy:
                self.timelines.move_to_end(key)
            return timeline
        if snapshot.key.segment is not None:
            segments = [k for k in self.timelines if k != self._model_key]
            if len(segments) >= self.timeline_keys:
                if not unhealthy:
                    return None
                del self.timelines[segments[0]]   # the least recently unhealthy
        timeline = self.timelines[key] = Timeline(self.timeline_step, self.timeline_horizon)
        return timeline

    @property
    def _model_key(self) -> str:
        return f"{self.spec.name}/{self.spec.model_id}"

    # --- the report's data ---------------------------------------------------------------

    def _periods(self, t: float) -> tuple[list[Slice], list[Slice], dict[str, Any]]:
        # the SLO window's slices up to t, the slice t falls in included: a fast-burn alert
        # fires minutes after a change, and those minutes are what the report must show. The
        # engine hands the sketch predictions and labels only once its clock has passed them,
        # so the slice holds exactly what came before t, in a replay too.
        stop = int(t // self.width) + (1 if t % self.width else 0)
        first = stop - max(1, round(self.spec.window / self.width))
        current = [s for i, s in sorted(self.slices.items()) if first <= i < stop]
        span = [(i, s) for i, s in sorted(self.slices.items())
                if first - self.reference_span / self.width <= i < first]
        healthy = [s for _, s in span if not s.unhealthy]
        only_healthy = sum(s.all.n for s in healthy) >= self.drift.min_samples
        chosen = healthy if only_healthy else [s for _, s in span]
        reference_indices = [i for i, s in span if (not s.unhealthy or not only_healthy)]
        info = {"current": (first * self.width, stop * self.width),
                "reference": ((min(reference_indices) * self.width,
                               (max(reference_indices) + 1) * self.width)
                              if reference_indices else (None, None)),
                "reference_healthy_only": only_healthy,
                "reference_slices": len(chosen), "reference_slices_unhealthy":
                    sum(1 for _, s in span if s.unhealthy)}
        return current, chosen, info

    def _merge(self, slices: list[Slice], flagged: bool, start: float, end: float) -> WindowData:
        return merge([s.flagged if flagged else s.all for s in slices], start, end,
                     len(self.codec.columns), self.score_bins, self.sample_cap, label_bins=1)

    def summary(self, alert: AlertEvent, drift_record: dict | None = None) -> dict:
        """The report's data for `alert` (JSON-ready; see docs/remediation.md)."""
        spec, cfg, metric = self.spec, self.drift, self.spec.metric
        t = alert.event_time
        cur_slices, ref_slices, info = self._periods(t)
        (c0, c1), (r0, r1) = info["current"], info["reference"]
        cur, ref = self._merge(cur_slices, False, c0, c1), self._merge(ref_slices, False, r0 or 0, r1 or 0)
        cur_f, ref_f = self._merge(cur_slices, True, c0, c1), self._merge(ref_slices, True, r0 or 0, r1 or 0)
        cur_groups, ref_groups = merge_groups(cur_slices), merge_groups(ref_slices)

        cur_rate, ref_rate = metric_rate(cur.labels[:, 0], metric), metric_rate(ref.labels[:, 0], metric)
        metric_change: dict[str, Any] = {
            "name": metric, "objective": spec.objective, "current": cur_rate.to_record(),
            "reference": ref_rate.to_record(), "p_value": compare_rates(ref_rate, cur_rate)}
        versions = against_rest(cur_groups.get("version", {}), metric, cfg.fdr, spec.min_labels)
        for row in versions:
            first = self.first_seen.get(row["value"])
            row["first_seen"] = format_event_time(first) if first is not None else None
            ref_cells = ref_groups.get("version", {}).get(row["value"])
            row["reference"] = metric_rate(ref_cells[0], metric).to_record() if ref_cells else None
        reviewers = against_rest(cur_groups.get("reviewer", {}), metric, cfg.fdr, spec.min_labels)
        metric_change["without_worse_reviewers"] = self._without(
            cur_groups.get("reviewer", {}), reviewers, ref_rate)
        metric_change["without_worse_versions"] = self._without(
            cur_groups.get("version", {}), versions, ref_rate)

        columns = [(name, None if name == SCORE else self.codec.kind(i))
                   for i, name in enumerate(self.codec.columns)]
        input_drift = feature_drift(columns, ref.sample, cur.sample, cfg)
        flagged_drift = feature_drift(columns, ref_f.sample, cur_f.sample, cfg)
        categories = {name: self.codec.category_names(name) for name, _ in columns}
        recent = self._merge(cur_slices[-RECENT_SLICES:], False, c0, c1)
        upstream = upstream_checks(columns, ref.sample, [cur.sample, recent.sample], categories,
                                   cfg.fdr, cfg.min_samples)
        drift_records = {k: v.to_record() for k, v in input_drift.items()}
        verdict = triage(metric_change, upstream, drift_records, versions, reviewers,
                         alpha=cfg.alpha)
        timeline = self.timelines.get(alert.key.dedup_key) or self.timelines.get(
            f"{spec.name}/{spec.model_id}")
        summary = {
            "format": 1,
            "alert": alert.to_record(),
            "slo": {"name": spec.name, "model_id": spec.model_id, "metric": metric,
                    "objective": spec.objective, "window": spec.window,
                    "positive_label": spec.positive_label, "min_labels": spec.min_labels},
            "periods": {
                "current": {"start": c0, "end": c1, "predictions": cur.n, "flagged": cur.flagged,
                            "samples": cur.sample_size, "flagged_samples": cur_f.sample_size},
                "reference": {"start": r0, "end": r1, "predictions": ref.n, "flagged": ref.flagged,
                              "samples": ref.sample_size, "flagged_samples": ref_f.sample_size,
                              "healthy_only": info["reference_healthy_only"],
                              "slices": info["reference_slices"],
                              "unhealthy_slices_skipped": info["reference_slices_unhealthy"]}},
            "timeline": {"key": alert.key.dedup_key, "objective": spec.objective,
                         "points": timeline.to_record(until=t) if timeline else []},
            "metric": metric_change,
            "confusion": {"current": confusion(cur.labels[:, 0]),
                          "reference": confusion(ref.labels[:, 0])},
            "segments": segment_contributions(cur_groups, ref_groups, metric, ref_rate, cfg.fdr),
            "input_drift": drift_records,
            "flagged_drift": {k: v.to_record() for k, v in flagged_drift.items()},
            "upstream": upstream,
            "score_shift": {
                "edges": [i / self.score_bins for i in range(self.score_bins + 1)],
                "all": score_shift(ref.hist.sum(axis=0), cur.hist.sum(axis=0), cfg.alpha),
                "flagged": score_shift(ref.hist[1], cur.hist[1], cfg.alpha)},
            "versions": versions,
            "reviewers": reviewers,
            "label_delay": self._delays(cur_slices, ref_slices),
            "false_positives": [
                {**fp, "predicted_at": format_event_time(fp["predicted_at"]),
                 "labeled_at": format_event_time(fp["labeled_at"])}
                for fp in self.false_positives if fp["predicted_at"] <= t][::-1],
            "triage": verdict,
            "drift_monitor": drift_record,
            "dropped": dict(self.dropped, features_ignored=self.codec.ignored,
                            values_mismatched=self.codec.mismatched),
        }
        for period in summary["periods"].values():
            for k in ("start", "end"):
                period[k] = format_event_time(period[k]) if period[k] is not None else None
        return plain_json(summary)

    def _without(self, groups, rows: list[dict[str, Any]], ref_rate: Rate) -> dict[str, Any] | None:
        worse = {r["value"] for r in rows if r["worse"]}
        if not worse:
            return None
        rest = metric_rate(without(groups, worse), self.spec.metric)
        return {"excluded": sorted(worse), "current": rest.to_record(),
                "reference": ref_rate.to_record(), "p_value": compare_rates(ref_rate, rest)}

    @staticmethod
    def _delays(current: list[Slice], reference: list[Slice]) -> dict[str, Any]:
        cur = sum((s.delays for s in current), np.zeros(len(DELAY_EDGES) + 1))
        ref = sum((s.delays for s in reference), np.zeros(len(DELAY_EDGES) + 1))
        return {"edges": list(DELAY_EDGES), "current": cur.tolist(), "reference": ref.tolist(),
                "median_bin_current": _median_bin(cur), "median_bin_reference": _median_bin(ref)}

    # --- inspection ----------------------------------------------------------------------

    def state_bytes(self) -> int:
        """Size of the pickled state (what a recovery snapshot stores)."""
        import pickle
        return len(pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL))


def _median_bin(hist: np.ndarray) -> str | None:
    """The label-delay bin holding the median, as text ("60-120 s")."""
    total = hist.sum()
    if total == 0:
        return None
    i = int(np.searchsorted(np.cumsum(hist), total / 2))
    lo = 0 if i == 0 else DELAY_EDGES[i - 1]
    return f"{lo:g}-{DELAY_EDGES[i]:g} s" if i < len(DELAY_EDGES) else f">= {lo:g} s"


def _compact(features: dict[str, Any], limit: int) -> dict[str, Any]:
    out = {}
    for name, value in list(features.items())[:limit]:
        out[name] = value[:MAX_FEATURE_VALUE] if isinstance(value, str) else value
    return out

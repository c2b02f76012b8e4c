"""One SLO key's state: buckets in, snapshots and alerts out. The flow holds one per key.

Two calls, both driven by the data, never by a clock:

- `observe(record)` for each joined label routed to this key (slo/routing.py): O(1), a few float
  additions into the bucket of the prediction's event time (late labels land in the past).
- `advance(watermark)` when the watermark moves: evaluates every step (one per bucket, aligned
  to the epoch, starting at the end of the first bucket with data) up to the watermark that was
  not evaluated yet, and returns the latest snapshot and the alert events of all those steps.
  Steps are on a fixed grid, so how the watermark progresses (one minute at a time live, in big
  jumps during a replay) does not change the results. A watermark at or before the last step
  returns the last snapshot and no events.

Optionally `observe_prediction(t)` for each prediction routed here, which enables the label
starvation rule (predictions flow but labels do not).

>>> from schemas.joined import JoinedRecord
>>> from slo.spec import parse_slo_yaml
>>> spec = parse_slo_yaml("slos: [{name: p, model_id: m, metric: precision, positive_label: 1,"
...                       " objective: 0.9, min_labels: 5}]").slos[0]
>>> tracker = SloTracker(spec)
>>> for i in range(10):
...     tracker.observe(JoinedRecord(f"id{i}", "m", "v1", 60.0 * i, 60.0 * i + 5, 1, int(i != 3),
...                                  review_probability=1.0))
>>> status, alerts = tracker.advance(600.0)
>>> status.estimate, status.labels, status.state
(0.9, 10, 'at_risk')
>>> status.to_record()["event_time"]
'1970-01-01T00:10:00Z'
"""

from __future__ import annotations

import pickle
import sys
from typing import Any

import numpy as np

from schemas.joined import JoinedRecord
from schemas.labels import same_class
from slo.buckets import BucketRing
from slo.burn_rate import burn_rate
from slo.change import ChangeTest
from slo.compliance import MET, MISSED, UNKNOWN, TimesliceCompliance
from slo.durations import format_duration
from slo.estimators import Estimate, WindowCounts, estimate
from slo.intervals import Bounds
from slo.policy import AlertPolicy, Transition
from slo.routing import TrackerKey
from slo.rules import RuleSet, clearances, evaluate, resolve_rules
from slo.sequential import BernoulliCusum, ErrorBaseline, TrendTest
from slo.snapshots import AlertEvent, StatusSnapshot
from slo.spec import SloSpec
from slo.version_health import VersionHealth

_DERIVED = ("rules", "bounds", "_windows", "_segment_starts", "_window_names", "_precision",
            "_positive", "_version_slice", "_is_positive")


class SloTracker:
    """Rolling weighted counts, evaluation and alert policy for one (SLO, model, segment)."""

    __slots__ = ("spec", "key", "ring", "policy", "cusum", "trend", "baseline", "change", "_fresh",
                 "_miss_ratio", "compliance",
                 "versions", "last_step", "last_snapshot", "latest_version", "_latest_time",
                 "predictions_seen", "predictions_dropped") + _DERIVED

    def __init__(self, spec: SloSpec, segment: str | None = None, key: TrackerKey | None = None,
                 ahead: int | None = None):
        """Tracker of `spec` for the whole model or one `segment` ("country=US").

        `ahead`: seconds of event time accepted beyond the last evaluated step (default
        slo/defaults.py AHEAD, 2h); at least the flow's allowed lateness plus the usual skew
        between predictions and labels. Each hour costs 4.7 KiB per key.
        """
        self.spec = spec
        self.key = key or TrackerKey(spec.name, spec.model_id, segment)
        self._derive()
        rules = self.rules
        span, ahead_buckets = rules.ring_buckets()
        if ahead is not None:
            ahead_buckets = -(-ahead // rules.bucket)
        self.ring = BucketRing(rules.bucket, span, ahead_buckets)
        self.policy = AlertPolicy(rules.resolve_for)
        self.cusum = (BernoulliCusum.for_budget(rules.budget, rules.sequential.shift,
                                                rules.sequential.threshold)
                      if rules.sequential else None)
        # the trend test's CUSUM exists while the key's usual error rate is known and below budget
        self.trend: TrendTest | None = None
        self.baseline = ErrorBaseline(rules.trend.memory) if rules.trend else None
        self.change = self._new_change_test()
        # labels observed since the last step, for the sequential tests (labeled_at, id, error, w)
        self._fresh: list[tuple[float, str, bool, float]] = []
        self._miss_ratio = 1.0     # a miss's weight over a hit's in the SLO window (last known)
        self.compliance = None
        if rules.compliance is not None:
            c = rules.compliance
            self.compliance = TimesliceCompliance(c.period // c.timeslice, c.target)
        self.versions = VersionHealth(rules.window, rules.objective, rules.min_labels, rules.metric)
        self.last_step: int | None = None
        self.last_snapshot: StatusSnapshot | None = None
        self.latest_version: str | None = None
        self._latest_time = float("-inf")
        self.predictions_seen = False
        self.predictions_dropped = 0

    def _derive(self) -> None:
        rules: RuleSet = resolve_rules(self.spec)
        self.rules = rules
        self.bounds = Bounds(rules.interval)
        self._windows = rules.windows
        span = rules.longest // rules.bucket
        # windows end at the same bucket; sum the segments between their starts once
        self._segment_starts = np.array([span - w // rules.bucket for w in reversed(rules.windows)])
        self._window_names = [format_duration(w) for w in rules.windows]
        self._is_positive: dict[tuple[type, Any], bool] = {}
        self._precision = rules.metric == "precision"
        self._positive = self.spec.positive_label
        self._version_slice = rules.window // rules.bucket

    # --- input ---------------------------------------------------------------------------------

    def observe(self, record: JoinedRecord) -> None:
        """Add one joined label to the bucket of its prediction's event time."""
        ring = self.ring
        t = record.predicted_at
        k = int(t // ring.width)
        base = ring.slot(k)
        if base < 0:
            return
        p = record.review_probability
        if not 0.0 < p <= 1.0:
            raise ValueError(f"review_probability must be in (0, 1], got {p!r}")
        w = 1.0 / p
        flagged = self._positive_class(record.predicted_label)
        actual = self._positive_class(record.label)
        if self._precision:
            in_population, hit = flagged, actual
        else:
            in_population, hit = actual, flagged
        d = ring.data   # field order: slo/buckets.py
        d[base] += 1.0
        if in_population:
            if hit:
                d[base + 1] += 1.0
                d[base + 2] += w
                d[base + 5] += w * w
            else:
                d[base + 3] += 1.0
                d[base + 4] += w
                d[base + 6] += w * w
        if not flagged:
            d[base + 7] += 1.0
            d[base + 9] += w
        if in_population and (self.cusum is not None or self.baseline is not None
                              or self.change is not None):
            self._fresh.append((record.labeled_at, record.prediction_id, not hit, w))
        version = record.model_version
        if version is not None:
            if t >= self._latest_time:
                self._latest_time = t
                self.latest_version = version
            self.versions.observe(version, t, k // self._version_slice, hit, in_population, w,
                                  not flagged)

    def _positive_class(self, value: Any) -> bool:
        """`same_class(value, positive_label)`, memoised per (type, value) for speed."""
        cache_key = (value.__class__, value)
        known = self._is_positive.get(cache_key)
        if known is None:
            known = same_class(value, self._positive)
            if len(self._is_positive) < 64:
                self._is_positive[cache_key] = known
        return known

    def observe_prediction(self, predicted_at: float, count: int = 1) -> None:
        """Count `count` predictions made at `predicted_at` routed to this key.

        Only needed for the label starvation rule (predictions flow, labels do not).
        """
        ring = self.ring
        late, ahead = ring.dropped_late, ring.dropped_ahead
        base = ring.slot(int(predicted_at // ring.width))
        self.predictions_seen = True
        if base >= 0:
            ring.data[base + 8] += count
        else:   # keep the ring's drop counters about labels
            ring.dropped_late, ring.dropped_ahead = late, ahead
            self.predictions_dropped += count

    # --- evaluation ----------------------------------------------------------------------------

    def advance(self, watermark: float) -> tuple[StatusSnapshot, list[AlertEvent]]:
        """Evaluate up to `watermark` (epoch seconds); the latest snapshot and all new alerts."""
        steps = self.advance_all(watermark)
        events = [e for _, evs in steps for e in evs]
        assert self.last_snapshot is not None
        return self.last_snapshot, events

    def advance_all(self, watermark: float, hold: tuple[str, str] | None = None
                    ) -> list[tuple[StatusSnapshot, list[AlertEvent]]]:
        """Like `advance`, but one (snapshot, alerts) pair per evaluated step; `hold` (severity and
        dedup key of an open alert covering this key) holds back a trigger (slo/policy.py)."""
        target = int(watermark // self.ring.width)
        if self.last_step is not None and target <= self.last_step:
            return []
        if self.last_step is not None:
            g = self.last_step + 1
        elif self.ring.min_bucket is not None:
            # the grid starts with the first data, not with the first call, so that a replay
            # whose first watermark differs evaluates the same steps
            g = min(self.ring.min_bucket + 1, target)
        else:
            g = target
        out = []
        while g <= target:
            if g < target and self.ring.is_empty_before(g):
                # every window from here to the target is empty: those steps cannot change any
                # state (no rule holds, nothing resolves), so evaluate the target directly
                g = target
            out.append(self._step(g, hold))
            g += 1
        return out

    def _step(self, g: int, hold: tuple[str, str] | None = None) -> tuple[StatusSnapshot, list[AlertEvent]]:
        rules, ring = self.rules, self.ring
        ring.advance(g)
        t = float(g * ring.width)
        rows = ring.rows_before(g, ring.span)
        segments = np.add.reduceat(rows, self._segment_starts, axis=0)
        sums = np.cumsum(segments[::-1], axis=0).tolist()   # shortest window first
        estimates: dict[int, Estimate] = {}
        main_window = rules.window
        for window, row in zip(self._windows, sums):
            estimates[window] = estimate(WindowCounts.from_row(row), rules.metric,
                                         rules.min_labels,
                                         self.bounds if window == main_window else None,
                                         rules.confidence)
        if self._fresh:
            share = estimates[main_window].share
            if share is not None:
                self._miss_ratio = share.weight_ratio
            self._consume_fresh()
        if self.compliance is not None:
            self._judge_timeslice(t, estimates)
        self.versions.close_before(t)

        main = estimates[rules.window]
        predictions = main.counts.predictions if self.predictions_seen else None
        cusum = self.cusum.statistic if self.cusum is not None else None
        trend = ((self.trend.statistic, self.trend.p0, self.trend.alarm)
                 if self.trend is not None else None)
        change = self.change
        moved = (change.alarm, change.usual, change.level) if change is not None else None
        findings = evaluate(rules, estimates, cusum, predictions, ring.history(g),
                            trend, moved)
        threshold = rules.objective + rules.hysteresis
        recovered = main.sufficient and main.value >= threshold
        recovery = (f"{rules.metric} back at {main.value:.4g}, at or above {threshold:.4g} "
                    f"(objective + hysteresis) for {format_duration(rules.resolve_for)} with no "
                    "alert rule active" if recovered and self.policy.episode is not None else "")
        cleared = (clearances(rules, estimates, cusum, trend[0] if trend else None,
                              moved[0] if moved else None)
                   if self.policy.episode is not None else None)
        transitions = self.policy.step(t, findings, recovered, self.key.dedup_key, recovery,
                                       cleared, hold)
        held = None
        if transitions and transitions[0].action == "held":   # a trigger held back: no alert
            held, transitions = transitions[0], []
        if any(tr.action == "resolve" for tr in transitions):
            # re-arm: the next episode needs fresh evidence (the ARL guarantee restarts)
            for test in (self.cusum, self.trend, self.change):
                if test is not None:
                    test.reset()

        burns = {name: (burn_rate(e.value, rules.objective) if e.value is not None else None)
                 for name, e in zip(self._window_names, estimates.values())}
        state, reason = self._state(main, findings)
        if held is not None:
            reason += f"; alert {held.reason}"
        episode = self.policy.episode
        snapshot = StatusSnapshot(
            key=self.key, event_time=t, metric=rules.metric, objective=rules.objective,
            window=format_duration(rules.window), estimate=main.value, lower=main.lower,
            upper=main.upper, labels=main.counts.labels, state=state, reason=reason,
            labels_in_metric=main.counts.population, effective_sample_size=main.n_eff,
            hit_weight=main.counts.hit_weight, miss_weight=main.counts.miss_weight,
            burn_rates=burns, rules=tuple(f.rule for f in findings),
            alert_id=episode.alert_id if episode else None,
            alert_severity=episode.severity if episode else None,
            model_version=self.latest_version, predictions=predictions, sequential=cusum,
            compliance=(self.compliance.summary(int(t // rules.compliance.timeslice))
                        if self.compliance is not None else None),
            last_healthy_version=self.versions.last_healthy(),
            dropped_late=ring.dropped_late, dropped_ahead=ring.dropped_ahead,
            alert_held_by=hold[1] if held is not None and hold is not None else None)
        events = [self._event(tr, t, main, burns) for tr in transitions]
        self.last_step = g
        self.last_snapshot = snapshot
        return snapshot, events

    def _consume_fresh(self) -> None:
        """Feed the labels observed since the last step to the sequential tests, each once.

        In (review time, prediction id) order, so the result does not depend on how the inputs
        were interleaved when read. Each label counts once; the CUSUMs judge it at the miss
        share their error rates show among reviewed labels, given how much more a miss weighs
        than a hit in the SLO window (slo/sequential.py). While an alert episode is open the
        usual level is not updated: those labels are not usual, and without a change alarms are
        years apart, so leaving their labels out does not bias it.
        """
        fresh = self._fresh
        fresh.sort(key=lambda item: (item[0], item[1]))
        ratio = self._miss_ratio
        cusum, trend, baseline, change = self.cusum, self._trend_test(), self.baseline, self.change
        if cusum is not None:
            cusum.set_ratio(ratio)
        if trend is not None:
            trend.set_ratio(ratio)
        if self.policy.episode is not None:
            baseline = None     # an episode's labels are not the key's usual level
        for t, _, error, w in fresh:
            if change is not None:
                change.add(t, error)    # each reviewed label once, unweighted (slo/change.py)
            if cusum is not None:
                cusum.add(error)
            if trend is not None:
                trend.add(error)
            if baseline is not None:
                baseline.add(t, error, w)
        fresh.clear()

    def _new_change_test(self) -> ChangeTest | None:
        rule = self.rules.change
        return ChangeTest(rule.delta, rule.clock, float(rule.hold)) if rule is not None else None

    def _trend_test(self) -> TrendTest | None:
        """The trend CUSUM with p0 set from the usual error rate; None while unusable."""
        rule, baseline = self.rules.trend, self.baseline
        if rule is None or baseline is None or baseline.n_eff < rule.reference_labels:
            self.trend = None
            return None
        p0, budget = baseline.upper(rule.confidence, self._miss_ratio), self.rules.budget
        if p0 >= budget:
            self.trend = None       # usually at the budget already: the other rules judge it
            return None
        if self.trend is None:
            self.trend = TrendTest(budget, rule.shifts, rule.threshold)
        self.trend.set_usual(p0)
        return self.trend

    def _judge_timeslice(self, t: float, estimates: dict[int, Estimate]) -> None:
        comp = self.rules.compliance
        assert comp is not None and self.compliance is not None
        if t % comp.timeslice:
            return
        e = estimates[comp.timeslice]
        verdict = UNKNOWN if not e.sufficient else (MET if e.value >= self.rules.objective else MISSED)
        self.compliance.record(int(t // comp.timeslice) - 1, verdict)

    def _state(self, main: Estimate, findings: list) -> tuple[str, str]:
        rules = self.rules
        metric, objective = rules.metric, rules.objective
        window = format_duration(rules.window)
        if not main.sufficient:
            return "insufficient_data", f"insufficient data over the last {window}: {main.why_insufficient}"
        described = (f"{metric} {main.value:.4g} over the last {window} "
                     f"({rules.confidence * 100:g}% CI {main.lower:.4g}-{main.upper:.4g}, "
                     f"{main.counts.population} labels, n_eff {main.n_eff:.0f})")
        if main.upper < objective:
            return "breached", f"{described} is below the {objective:g} objective"
        if findings:
            return "at_risk", f"{described}; {findings[0].reason}"
        if main.value < objective:
            return "at_risk", f"{described} is below the {objective:g} objective, not confidently"
        if main.value < objective + rules.hysteresis:
            return "at_risk", f"{described} is just above the {objective:g} objective"
        return "ok", f"{described} meets the {objective:g} objective"

    def _event(self, tr: Transition, t: float, main: Estimate,
               burns: dict[str, float | None]) -> AlertEvent:
        remediation = () if tr.action == "resolve" else tuple(self.spec.remediation.get(tr.severity, ()))
        return AlertEvent(
            alert_id=tr.alert_id, key=self.key, action=tr.action, severity=tr.severity,
            event_time=t, model_version=self.latest_version, estimate=main.value,
            lower=main.lower, upper=main.upper, labels=main.counts.labels, reason=tr.reason,
            rule=tr.rule, metric=self.rules.metric, objective=self.rules.objective,
            episode_start=tr.episode_start, burn_rates=dict(burns), remediation=remediation,
            last_healthy_version=self.versions.last_healthy(exclude=self.latest_version))

    def keep_counts_of(self, old: SloTracker) -> bool:
        """Take over `old`'s label and prediction counts (and where its evaluation stood) when this
        tracker counts labels the way it did: same model, metric and positive label, and a bucket
        ring of the same shape. Its alert state, sequential tests and compliance stay fresh: they
        belong to the old definition. Returns whether the counts were kept.

        A redefined SLO (e.g. a new objective) so judges the window it already has at once,
        instead of reporting insufficient data until the window fills again.
        """
        before, now = old.spec, self.spec
        ring = self.ring
        if ((before.model_id, before.metric, before.positive_label) != (now.model_id, now.metric, now.positive_label)
                or (old.ring.width, old.ring.span, old.ring.size) != (ring.width, ring.span, ring.size)):
            return False
        self.ring = old.ring
        self.last_step = old.last_step
        self.latest_version, self._latest_time = old.latest_version, old._latest_time
        self.predictions_seen, self.predictions_dropped = old.predictions_seen, old.predictions_dropped
        versions = old.versions
        if (versions.timeslice, versions.metric) == (self.versions.timeslice, self.versions.metric):
            # verdicts already given stand; slices still open are judged by the new objective
            versions.objective, versions.min_labels = self.rules.objective, self.rules.min_labels
            self.versions = versions
        return True

    def retire(self, reason: str) -> list[AlertEvent]:
        """Resolve this key's open alert, if any, as of its last step: nothing will evaluate the
        key again (its SLO left the SLO file or was defined anew), and an alert left open would
        stay open in PagerDuty for good."""
        episode = self.policy.episode
        if episode is None:
            return []
        self.policy.episode = None
        last = self.last_snapshot
        return [AlertEvent(
            alert_id=episode.alert_id, key=self.key, action="resolve", severity=episode.severity,
            event_time=last.event_time if last else episode.start, model_version=self.latest_version,
            estimate=last.estimate if last else None, lower=last.lower if last else None,
            upper=last.upper if last else None, labels=last.labels if last else 0, reason=reason,
            rule=episode.rule, metric=self.rules.metric, objective=self.rules.objective,
            episode_start=episode.start)]

    # --- inspection ----------------------------------------------------------------------------

    def window_counts(self, seconds: int) -> WindowCounts:
        """Counts of the window of `seconds` ending at the last evaluated step."""
        if self.last_step is None:
            return WindowCounts()
        rows = self.ring.rows_before(self.last_step, seconds // self.ring.width)
        return WindowCounts.from_row(rows.sum(axis=0).tolist())

    def last_healthy_version(self, exclude: str | None = None) -> str | None:
        """The most recent model version whose last judged window met the objective."""
        return self.versions.last_healthy(exclude)

    def memory_bytes(self) -> int:
        """Approximate bytes of this key's own state (the spec, shared by keys, not counted)."""
        return _deep_size(self.__getstate__(), exclude=(self.spec,))

    # --- pickling: the spec is kept, derived fields are recomputed -------------------------------

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__ if name not in _DERIVED}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            if name in self.__slots__:      # a snapshot may hold fields since removed
                object.__setattr__(self, name, value)
        self._derive()
        # fields added since the snapshot was written
        if "_fresh" not in state:
            self._fresh = []
            self.trend = None
        if "_miss_ratio" not in state:
            self._miss_ratio = 1.0
        snapshot = state.get("last_snapshot")
        if snapshot is not None and not hasattr(snapshot, "alert_held_by"):
            snapshot.alert_held_by = None   # a StatusSnapshot pickled before the field existed
        # the tests the SLO has now: a snapshot may come from before a test existed or was on by
        # default (or from another SLO file); a test it lacks starts fresh, one turned off goes
        rules = self.rules
        if rules.trend is None:
            self.trend = self.baseline = None
        elif getattr(self, "baseline", None) is None:
            self.trend, self.baseline = None, ErrorBaseline(rules.trend.memory)
        if rules.change is None:
            self.change = None
        elif getattr(self, "change", None) is None:
            self.change = self._new_change_test()

    def snapshot_bytes(self) -> bytes:
        """The pickled state (what a recovery snapshot stores)."""
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)


def _deep_size(obj: Any, exclude: tuple[Any, ...] = (), _seen: set[int] | None = None) -> int:
    seen = _seen if _seen is not None else {id(x) for x in exclude}
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(_deep_size(k, exclude, seen) + _deep_size(v, exclude, seen)
                    for k, v in obj.items())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        size += sum(_deep_size(x, exclude, seen) for x in obj)
    elif isinstance(obj, (str, bytes, bytearray, int, float, bool, type(None))) or hasattr(obj, "buffer_info"):
        pass
    else:
        for cls in type(obj).__mro__:
            for name in getattr(cls, "__slots__", ()):
                if hasattr(obj, name):
                    size += _deep_size(getattr(obj, name), exclude, seen)
        if hasattr(obj, "__dict__"):
            size += _deep_size(vars(obj), exclude, seen)
    return size

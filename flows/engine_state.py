"""The SLO engine as the dataflow runs it: all trackers of one SLO, and its evaluation clock.

Pure Python (no Bytewax), so it is tested directly. The dataflow hands it three things:

- joined labels (`add_joined`), held until the evaluation clock passes their review time, so
  an evaluation at time t counts exactly the labels reviewed before t, however the topics were
  interleaved when read (this is what makes a replay give the same alerts as the live run);
- prediction counts (`add_predictions`), for the label-starvation rule, held likewise until
  the clock passes their minute;
- each join shard's clock (`clock`): the event time both inputs have reached there. The engine
  evaluates every step up to the slowest shard's clock minus the allowed lateness. With the
  SLO's `evaluation_delay`, the window judged at each step ends that much earlier, so labels
  that take hours have arrived for it.

With a ``drift:`` block the engine also gets each whole prediction (`add_prediction_detail`),
held the same way, for the SLO's `DriftMonitor`; every `evaluate_every` of event time the
monitor evaluates, its record rides on the model key's status snapshot of that step, and the
composite warning becomes an alert of its own (`slo.drift.alerting`). SLOs that keep
diagnostics feed a `DiagnosticSketch` the same predictions and labels, plus every status, and
publish its summary (the report's data) when an alert triggers or escalates.
"""

from __future__ import annotations

import heapq
import pickle
from itertools import count

from schemas.events import Prediction
from schemas.joined import JoinedRecord
from schemas.labels import same_class
from slo.diagnosis import DiagnosticSketch
from slo.drift.alerting import DriftAlerts
from slo.drift.monitor import DriftMonitor
from slo.routing import TrackerKey, keys_for_prediction
from slo.snapshots import AlertEvent, DiagnosticSummary, StatusSnapshot
from slo.spec import SloFile, SloSpec
from slo.tracker import SloTracker

EngineOutput = StatusSnapshot | AlertEvent | DiagnosticSummary
_MAX_ROUTES = 65_536   # remembered (model_id, segment) routes per SLO before starting afresh


class SloEngine:
    """Trackers of one SLO (whole model and each segment value) and the clock that drives them."""

    def __init__(self, slo_file: SloFile, slo_name: str, shards: int, lateness: float, step: float) -> None:
        self.slo_file = slo_file
        self.spec: SloSpec = slo_file.get(slo_name)
        self.shards = shards
        self.lateness = lateness
        self.step = step
        self.trackers: dict[TrackerKey, SloTracker] = {}
        # Inputs held until the clock passes their time: (time, sequence, record or counts).
        self.waiting: list[tuple[float, int, JoinedRecord | tuple]] = []
        self.clocks: dict[str, float] = {}
        self.evaluated_to: float | None = None
        self.late_labels = 0  # labels that arrived after their review time was evaluated
        self._sequence = count()
        drift = self.spec.drift
        self.drift = DriftMonitor(drift, self.spec.metric, self.spec.min_labels) if drift else None
        self.drift_alerts = DriftAlerts(self.spec) if drift else None
        self.latest_version: str | None = None  # of the newest prediction seen whole
        self.latest_drift: dict | None = None   # the last drift record, for the reports
        self.sketch = DiagnosticSketch(self.spec) if self.spec.keeps_diagnostics else None
        self._routes: dict[tuple, list[SloTracker]] = {}   # see `_trackers_for`; not in snapshots

    def add_joined(self, record: JoinedRecord) -> None:
        if self.evaluated_to is not None and record.labeled_at < self.evaluated_to:
            self.late_labels += 1
            self._apply(record)
        else:
            heapq.heappush(self.waiting, (record.labeled_at, next(self._sequence), record))

    def add_predictions(self, model_id: str, segment: tuple[tuple[str, str], ...], minute: float, n: int) -> None:
        counts = (model_id, segment, minute, n)
        if self.evaluated_to is not None and minute < self.evaluated_to:
            self._apply(counts)
        else:
            heapq.heappush(self.waiting, (minute, next(self._sequence), counts))

    def add_prediction_detail(self, prediction: Prediction) -> None:
        """A whole prediction (features, score) for the drift monitor."""
        if self.evaluated_to is not None and prediction.timestamp < self.evaluated_to:
            self._apply(prediction)
        else:
            heapq.heappush(self.waiting, (prediction.timestamp, next(self._sequence), prediction))

    def clock(self, shard: str, event_time: float) -> list[EngineOutput]:
        """Record a shard's clock; evaluate every step the slowest shard now allows."""
        if event_time <= self.clocks.get(shard, float("-inf")):
            return []
        self.clocks[shard] = event_time
        if len(self.clocks) < self.shards:
            return []
        target = (min(self.clocks.values()) - self.lateness) // self.step * self.step
        step_time = target if self.evaluated_to is None else self.evaluated_to + self.step
        outputs: list[EngineOutput] = []
        while step_time <= target:
            while self.waiting and self.waiting[0][0] < step_time:
                self._apply(heapq.heappop(self.waiting)[2])
            window_end = step_time - self.spec.evaluation_delay
            step_outputs: list[EngineOutput] = []
            for tracker in self.trackers.values():
                for snapshot, alerts in tracker.advance_all(window_end, self._hold_of(tracker)):
                    step_outputs.append(snapshot)
                    step_outputs.extend(alerts)
            if self.drift is not None and step_time % self.spec.drift.evaluation_interval == 0:
                step_outputs.extend(self._evaluate_drift(step_time, step_outputs))
            if self.sketch is not None:
                step_outputs.extend(self._diagnose(step_outputs))
            outputs.extend(step_outputs)
            self.evaluated_to = step_time
            step_time += self.step
        return outputs

    def _hold_of(self, tracker: SloTracker) -> tuple[str, str] | None:
        """(severity, dedup key) of the whole model's open alert when it holds `tracker`'s (a segment's)
        triggers back, else None (`alerting.hold_segment_alerts`, slo/policy.py).

        The model's key is created with, so evaluated before, its first segment's (routing lists it
        first): its episode is as of this step.
        """
        key = tracker.key
        if key.segment is None or not self.spec.alerting.hold_segment_alerts:
            return None
        model = self.trackers.get(TrackerKey(key.slo, key.model_id))
        episode = model.policy.episode if model is not None else None
        return (episode.severity, model.key.dedup_key) if episode is not None else None

    def _evaluate_drift(self, step_time: float, step_outputs: list[EngineOutput]) -> list[AlertEvent]:
        """Evaluate drift at `step_time`; attach its record to the model key's snapshot."""
        assert self.drift is not None and self.drift_alerts is not None
        snapshot = self.drift.evaluate(step_time)
        self.latest_drift = snapshot.to_record()
        model_key = TrackerKey(self.spec.name, self.spec.model_id)
        for output in step_outputs:
            if isinstance(output, StatusSnapshot) and output.key == model_key:
                output.drift = self.latest_drift
        return self.drift_alerts.update(snapshot, self.latest_version)

    def _diagnose(self, step_outputs: list[EngineOutput]) -> list[DiagnosticSummary]:
        """Feed the step's statuses to the sketch; a summary for each opened or raised alert."""
        assert self.sketch is not None
        for output in step_outputs:
            if isinstance(output, StatusSnapshot):
                self.sketch.observe_status(output)
        return [DiagnosticSummary(alert.alert_id, alert.key, alert.event_time,
                                  self.sketch.summary(alert, self.latest_drift))
                for alert in step_outputs
                if isinstance(alert, AlertEvent) and alert.action in ("trigger", "escalate")]

    def _apply(self, item: JoinedRecord | Prediction | tuple) -> None:
        if isinstance(item, JoinedRecord):
            for tracker in self._trackers_for(item.model_id, item.segment):
                tracker.observe(item)
            if self.drift is not None:
                positive = self.spec.positive_label
                self.drift.observe_joined(item, positive=same_class(item.label, positive),
                                          flagged=same_class(item.predicted_label, positive))
            if self.sketch is not None:
                self.sketch.observe_joined(item)
            return
        if isinstance(item, Prediction):
            self._observe_detail(item)
            return
        model_id, segment, minute, n = item
        for tracker in self._trackers_for(model_id, segment):
            tracker.observe_prediction(minute, n)

    def _observe_detail(self, prediction: Prediction) -> None:
        if prediction.model_version is not None:
            self.latest_version = prediction.model_version
        if self.drift is not None:
            flagged = same_class(prediction.predicted_label, self.spec.positive_label)
            self.drift.observe_prediction(prediction.timestamp, prediction.score, flagged,
                                          prediction.features, key=prediction.prediction_id)
        if self.sketch is not None:
            self.sketch.observe_prediction(prediction)

    def _trackers_for(self, model_id: str, segment: dict[str, str] | tuple[tuple[str, str], ...]) -> list[SloTracker]:
        """The trackers a record of `model_id` with `segment` (a dict, or its items) feeds.

        Remembered per (model_id, segment items): every joined label and prediction count asks,
        and few distinct segments come. A segment's items come in one order from the decoder
        (sorted); a record listing them in another order only takes a second entry.
        """
        items = tuple(segment.items()) if isinstance(segment, dict) else segment
        route = self._routes.get((model_id, items))
        if route is None:
            if len(self._routes) >= _MAX_ROUTES:
                self._routes.clear()
            route = self._routes[(model_id, items)] = self._find_trackers(model_id, dict(items))
        return route

    def _find_trackers(self, model_id: str, segment: dict[str, str]) -> list[SloTracker]:
        trackers = []
        for key in keys_for_prediction(self.slo_file, model_id, segment):
            if key.slo != self.spec.name:
                continue
            tracker = self.trackers.get(key)
            if tracker is None:
                tracker = self.trackers[key] = SloTracker(self.spec, key.segment, key)
            trackers.append(tracker)
        return trackers

    def adopt(self, slo_file: SloFile, spec: SloSpec) -> None:
        """Take `spec`, which differs from this engine's only in what is done about alerts (its
        remediation, description, diagnostics): nothing it evaluates changes."""
        self.slo_file, self.spec = slo_file, spec
        for tracker in self.trackers.values():
            tracker.spec = spec   # (its remediation rides on its alerts)
        if self.drift_alerts is not None:
            self.drift_alerts.spec = spec
        if not spec.keeps_diagnostics:
            self.sketch = None
        elif self.sketch is None:
            self.sketch = DiagnosticSketch(spec)   # from now on
        else:
            self.sketch.spec = spec

    def redefined(self, slo_file: SloFile, spec: SloSpec) -> SloEngine:
        """An engine for `spec`, a new definition of this SLO, that goes on from this one's clocks
        and held inputs, and keeps each key's counts where they are counted the same way
        (`SloTracker.keep_counts_of`) and the drift monitor's data where its settings are the same.
        Alert states, tests and compliance start afresh (`retire` resolves this engine's alerts)."""
        new = SloEngine(slo_file, spec.name, self.shards, self.lateness, self.step)
        new.waiting, new.clocks, new.evaluated_to = self.waiting, self.clocks, self.evaluated_to
        new.late_labels, new._sequence, new.latest_version = self.late_labels, self._sequence, self.latest_version
        if spec.segments == self.spec.segments:   # else other keys: counts come again
            for key, old in self.trackers.items():
                tracker = SloTracker(spec, key.segment, key)
                if tracker.keep_counts_of(old):
                    new.trackers[key] = tracker
        if new.drift is not None and self.drift is not None and _drift_inputs(spec) == _drift_inputs(self.spec):
            new.drift, new.latest_drift = self.drift, self.latest_drift
        return new

    def retire(self, reason: str) -> list[AlertEvent]:
        """Resolve every open alert of this SLO (its keys' and its drift warning), for an SLO that
        left the SLO file or was defined anew: this engine evaluates nothing after."""
        events = [event for tracker in self.trackers.values() for event in tracker.retire(reason)]
        if self.drift_alerts is not None:
            events += self.drift_alerts.retire(reason, self.evaluated_to or 0.0, self.latest_version)
        return events

    def snapshot(self) -> bytes:
        """Immutable recovery snapshot (the trackers pickle compactly, without derived state)."""
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def restore(snapshot: bytes) -> SloEngine:
        return pickle.loads(snapshot)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_sequence"] = next(self._sequence)
        del state["_routes"]   # derived: rebuilt from `trackers` on demand
        return state

    def __setstate__(self, state: dict) -> None:
        state["_sequence"] = count(state["_sequence"])
        self.__dict__.update(state)
        self._routes = {}


def _drift_inputs(spec: SloSpec) -> tuple:
    """What a `DriftMonitor`'s data depends on: a new definition equal in these keeps it."""
    return spec.model_id, spec.metric, spec.positive_label, spec.min_labels, spec.drift

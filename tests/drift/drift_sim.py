"""A pure driver for the drift tests: the simulator's events into a DriftMonitor and an SloTracker.

Predictions go to the drift monitor (and are counted by the tracker); labels are joined to their
prediction here (a dict stands in for the flow's join) and go to both. Every `step` seconds of
event time the tracker advances and the monitor evaluates, at the same watermark.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.joined import JoinedRecord
from simulator.streams import TrafficGenerator
from slo.drift import DriftMonitor, DriftSnapshot
from slo.tracker import SloTracker


@dataclass
class Run:
    snapshots: list[DriftSnapshot] = field(default_factory=list)
    statuses: list = field(default_factory=list)        # SLO tracker snapshots, one per step
    alerts: list = field(default_factory=list)          # SLO alert events

    def first(self, predicate, items) -> float | None:
        return next((x.event_time for x in items if predicate(x)), None)

    @property
    def first_warning(self) -> float | None:
        return self.first(lambda s: s.status == "warning", self.snapshots)

    @property
    def first_drift(self) -> float | None:
        return self.first(lambda s: s.status in ("drift", "warning"), self.snapshots)

    @property
    def first_slo_alert(self) -> float | None:
        return self.first(lambda a: a.action == "trigger", self.alerts)

    @property
    def first_breached(self) -> float | None:
        return self.first(lambda s: s.state == "breached", self.statuses)


def joined(prediction: dict, label: dict, labeled_at: float, predicted_at: float) -> JoinedRecord:
    return JoinedRecord(
        prediction_id=prediction["prediction_id"], model_id=prediction["model_id"],
        model_version=prediction.get("model_version"), predicted_at=predicted_at,
        labeled_at=labeled_at, predicted_label=prediction["predicted_label"],
        label=label["label"], review_probability=prediction.get("review_probability", 1.0),
        score=prediction.get("score"), segment=prediction.get("segment") or {})


def drive(generator: TrafficGenerator, monitor: DriftMonitor, tracker: SloTracker | None,
          step: float, positive=1) -> Run:
    """Feed every event; evaluate both at each multiple of `step` of event time passed."""
    run = Run()
    pending: dict[str, tuple[float, dict]] = {}
    next_step = (generator.start // step + 1) * step

    def evaluate_until(t: float) -> None:
        nonlocal next_step
        while next_step <= t:
            run.snapshots.append(monitor.evaluate(next_step))
            if tracker is not None:
                for status, events in tracker.advance_all(next_step):
                    run.statuses.append(status)
                    run.alerts.extend(events)
            next_step += step

    for kind, t, record in generator.events():
        evaluate_until(t)
        if kind == "prediction":
            pid = record["prediction_id"]
            flagged = record["predicted_label"] == positive
            monitor.observe_prediction(t, record["score"], flagged, record["features"], key=pid)
            if tracker is not None:
                tracker.observe_prediction(t)
            pending[pid] = (t, record)
        else:
            predicted_at, prediction = pending.pop(record["prediction_id"])
            jr = joined(prediction, record, t, predicted_at)
            monitor.observe_joined(jr, positive=record["label"] == positive,
                                   flagged=prediction["predicted_label"] == positive)
            if tracker is not None:
                tracker.observe(jr)
    return run

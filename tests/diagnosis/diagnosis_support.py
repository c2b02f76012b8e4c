"""Run a simulator scenario through the real SLO tracker and a DiagnosticSketch, no Kafka.

Predictions and labels come from the simulator in event-time order; labels are joined to their
predictions here (as the flow's join does), fed to the tracker and the sketch; the tracker is
advanced every minute of event time and each status goes to the sketch. The first trigger
alert stops the run and the sketch's summary for it is returned.
"""

from __future__ import annotations

from schemas.events import Label, Prediction
from schemas.joined import JoinedRecord
from simulator import Behaviour, TrafficGenerator
from slo.diagnosis import DiagnosticSketch
from slo.routing import TrackerKey
from slo.snapshots import AlertEvent
from slo.spec import parse_slo_yaml
from slo.tracker import SloTracker

START = 1.8e9
HOUR = 3600.0
STEP = 60.0
SPEC = parse_slo_yaml("""
slos:
  - name: fraud-precision
    model_id: fraud-detector
    metric: precision
    positive_label: 1
    objective: 0.95
    window: 1h
    min_labels: 30
    segments: [country]
""").slos[0]
# many flagged predictions, so an hour holds a few hundred labels of flagged ones
BASE = Behaviour(flagged_rate=0.1)


def run(scenario, hours: float = 7.0, rate: float = 3000.0, seed: int = 11,
        stop_at_alert: bool = True, sketch: DiagnosticSketch | None = None,
        start: float = START):
    """(sketch, first trigger alert or None, last event time)."""
    generator = TrafficGenerator(scenario, start=start, duration=hours * HOUR, rate_per_hour=rate,
                                 seed=seed, timestamp_format="epoch")
    tracker = SloTracker(SPEC)
    sketch = sketch or DiagnosticSketch(SPEC)
    pending: dict[str, Prediction] = {}
    step = start + STEP
    t = start
    for kind, t, record in generator.events():
        while t >= step:
            for snapshot, alerts in tracker.advance_all(step):
                sketch.observe_status(snapshot)
                for alert in alerts:
                    if alert.action == "trigger" and stop_at_alert:
                        return sketch, alert, t
            step += STEP
        if kind == "prediction":
            prediction = Prediction.model_validate(record)
            sketch.observe_prediction(prediction)
            pending[prediction.prediction_id] = prediction
            continue
        label = Label.model_validate(record)
        p = pending.pop(label.prediction_id)
        joined = JoinedRecord(p.prediction_id, p.model_id, p.model_version, p.timestamp,
                              label.timestamp, p.predicted_label, label.label,
                              p.review_probability, p.score, dict(p.segment), label.reviewer)
        tracker.observe(joined)
        sketch.observe_joined(joined)
    return sketch, None, t


def synthetic_alert(t: float) -> AlertEvent:
    """An alert at `t` for a run where none fired (what a spurious page would look like)."""
    return AlertEvent("test-alert", TrackerKey(SPEC.name, SPEC.model_id), "trigger", "critical",
                      t, "v1", None, None, None, 0, "synthetic", metric="precision",
                      objective=SPEC.objective, episode_start=t)

"""Closing the loop without Kafka: the executor's raise, obeyed by the simulator's review process,
narrows the engine's confidence interval, stays unbiased, and ends at expires_at.

Recall is where review sampling matters: its missed positives are unflagged predictions, reviewed
at the low baseline rate, so each such label stands for many (weight 1/0.05) and the interval is
wide. Raising the unflagged review rate shrinks those weights.
"""

from __future__ import annotations

from typing import Any

from remediation.alert_record import parse_alert
from remediation.playbook_config import parse_playbook_config
from remediation.review_sampling_raise import RaiseSamplingHandler, SamplingRaises
from schemas.joined import JoinedRecord
from simulator.model import Behaviour
from simulator.review_sampling import apply_review_sampling
from simulator.scenarios import stable
from simulator.streams import TrafficGenerator
from slo.snapshots import StatusSnapshot
from slo.spec import parse_slo_yaml
from schemas.timestamps import format_event_time as rfc3339
from slo.tracker import SloTracker

HOUR = 3600.0
START = 1_767_225_600.0               # 2026-01-01T00:00:00Z
RAISE_AT = START + HOUR               # the alert's event time
CONFIG = parse_playbook_config({"defaults": {"raise_review_sampling": {"baseline": 0.05, "factor": 4,
                                                                       "cap": 0.5, "duration": "1h"}}})


def executor_record() -> dict[str, Any]:
    """The review-sampling record the executor publishes for an error alert at RAISE_AT."""
    sent: list[dict[str, Any]] = []
    handler = RaiseSamplingHandler(SamplingRaises(), lambda _t, _k, v: sent.append(v))
    alert = parse_alert({"alert_id": "ep-1", "dedup_key": "r/fraud-detector", "action": "trigger",
                         "severity": "error", "slo": "r", "model_id": "fraud-detector",
                         "event_time": rfc3339(RAISE_AT), "remediation": ["raise_review_sampling"]})
    book = CONFIG.playbook(alert)
    handler.apply(alert, book, handler.plan(alert, book))
    return sent[0]


def simulate(record: dict[str, Any] | None) -> tuple[dict[float, StatusSnapshot], list[tuple[float, dict]]]:
    """3h of stable traffic; `record` is applied when event time reaches RAISE_AT (as the
    review-sampling follower would). Snapshots of a recall SLO at each hour, and the predictions."""
    generator = TrafficGenerator(stable(Behaviour(review_probability_unflagged=0.05)), start=START,
                                 duration=3 * HOUR, rate_per_hour=20_000, seed=7)
    spec = parse_slo_yaml("slos: [{name: r, model_id: fraud-detector, metric: recall, positive_label: 1,"
                          " objective: 0.5, window: 1h, min_labels: 30}]").slos[0]
    tracker = SloTracker(spec)
    predictions: dict[str, tuple[float, dict]] = {}
    joined: list[JoinedRecord] = []
    pending = record
    for kind, t, event in generator.events():
        if pending is not None and t >= RAISE_AT:
            apply_review_sampling(generator, pending)
            pending = None
        if kind == "prediction":
            predictions[event["prediction_id"]] = (t, event)
            continue
        at, p = predictions[event["prediction_id"]]
        joined.append(JoinedRecord(p["prediction_id"], p["model_id"], p["model_version"], at, t,
                                   p["predicted_label"], event["label"], p["review_probability"]))
    joined.sort(key=lambda j: j.labeled_at)
    snapshots, i = {}, 0
    for hours in (1, 2, 3):
        end = START + hours * HOUR
        while i < len(joined) and joined[i].labeled_at <= end:
            tracker.observe(joined[i])
            i += 1
        snapshots[hours], _ = tracker.advance(end)
    return snapshots, list(predictions.values())


def width(s: StatusSnapshot) -> float:
    return s.upper - s.lower


def test_raised_sampling_narrows_the_interval_then_returns_to_baseline():
    record = executor_record()
    assert (record["rate"], record["expires_at"]) == (0.2, "2026-01-01T02:00:00Z")
    baseline, base_predictions = simulate(None)
    raised, raised_predictions = simulate(record)

    # before the raise: identical (same seed, same draws)
    assert width(raised[1]) == width(baseline[1])
    # the window [1h, 2h) was sampled at 0.2 instead of 0.05: a much narrower interval at 2h
    assert width(raised[2]) < 0.6 * width(baseline[2]), (width(raised[2]), width(baseline[2]))
    # flagged predictions are all reviewed (weight 1), so the rest of the population are reviewed
    # false negatives: more of them, each standing for fewer predictions (20 -> 5)
    def misses(s: StatusSnapshot) -> float:
        return s.labels_in_metric - s.hit_weight
    assert misses(raised[2]) > misses(baseline[2])
    assert raised[2].miss_weight / misses(raised[2]) == 5.0 and baseline[2].miss_weight / misses(baseline[2]) == 20.0
    assert raised[2].labels > 2 * baseline[2].labels
    # unbiased: the raised estimate lies inside the baseline run's interval and vice versa
    assert baseline[2].lower <= raised[2].estimate <= baseline[2].upper
    assert raised[2].lower <= baseline[2].estimate <= raised[2].upper
    # after expires_at (2h) the review process is back at baseline: the last window is as without
    assert width(raised[3]) == width(baseline[3])
    unflagged_rates = {p["review_probability"] for t, p in raised_predictions
                       if t >= START + 2 * HOUR and p["predicted_label"] == 0}
    assert unflagged_rates == {0.05}
    during = {p["review_probability"] for t, p in raised_predictions
              if RAISE_AT + 60 <= t < START + 2 * HOUR and p["predicted_label"] == 0}
    assert during == {0.2}
    assert len(base_predictions) == len(raised_predictions)

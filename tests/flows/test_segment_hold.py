"""One breach, one incident: the whole model's open alert holds back its segments' triggers
(`alerting.hold_segment_alerts`, slo/policy.py), in the engine, where one SLO's keys live together."""

from __future__ import annotations

import pickle
import random

import pytest
from prometheus_client import REGISTRY

from flows import metrics
from flows.engine_state import SloEngine
from schemas.joined import JoinedRecord
from slo.snapshots import AlertEvent, StatusSnapshot
from slo.spec import parse_slo_yaml
from slo.tracker import SloTracker

T0 = 1_790_000_040.0 // 60 * 60
HOUR = 3600.0
MODEL_KEY = "p/m"
# Precision per phase and country: all fine; the whole model collapses; it recovers but for DE (5%).
PHASES = [(3 * HOUR, {"US": 0.98, "DE": 0.98}), (5 * HOUR, {"US": 0.7, "DE": 0.7}), (10 * HOUR, {"US": 0.99, "DE": 0.5})]


def slo_file(hold: bool):
    return parse_slo_yaml(
        "slos: [{name: p, model_id: m, metric: precision, positive_label: 1, objective: 0.95, window: 1h,"
        f" min_labels: 30, segments: [country], alerting: {{hold_segment_alerts: {str(hold).lower()}}}}}]"
    )


def traffic(seed: int = 5) -> list[JoinedRecord]:
    rng = random.Random(seed)
    records, index, predicted_at = [], 0, T0
    for end, precision in PHASES:
        while predicted_at < T0 + end:
            country = "DE" if rng.random() < 0.05 else "US"
            records.append(JoinedRecord(f"id{index}", "m", "v1", predicted_at, predicted_at + rng.uniform(30, 300), 1,
                                        int(rng.random() < precision[country]), 1.0, segment={"country": country}))
            index, predicted_at = index + 1, predicted_at + 1.2
    return records


def run(hold: bool) -> list:
    engine = SloEngine(slo_file(hold), "p", shards=1, lateness=0.0, step=60.0)
    outputs, next_clock = [], T0 + 60
    for record in traffic():
        while record.labeled_at >= next_clock:
            outputs += engine.clock("shard-0", next_clock)
            next_clock += 60
        engine.add_joined(record)
    return outputs + engine.clock("shard-0", next_clock + 3600)


def alerts(outputs: list) -> list[tuple[float, str, str, str]]:
    return [(o.event_time, o.key.dedup_key, o.action, o.severity) for o in outputs if isinstance(o, AlertEvent)]


def model_open_interval(events: list[tuple[float, str, str, str]]) -> tuple[float, float]:
    opened = min(t for t, key, action, _ in events if key == MODEL_KEY and action == "trigger")
    resolved = min(t for t, key, action, _ in events if key == MODEL_KEY and action == "resolve")
    return opened, resolved


def test_the_model_alert_holds_its_segments_back_and_a_segment_still_bad_pages_when_it_resolves():
    outputs = run(hold=True)
    events = alerts(outputs)
    opened, resolved = model_open_interval(events)
    segment_triggers = [(t, key) for t, key, action, _ in events if key != MODEL_KEY and action == "trigger"]
    assert not [t for t, _ in segment_triggers if opened <= t < resolved], "no segment opens under the model's alert"
    # DE is still bad when the model recovers: it opens its own incident at the step the model's
    # resolves (the model's key is evaluated first); US never pages.
    assert segment_triggers == [(resolved, "p/m/country=DE")]
    held = [o for o in outputs if isinstance(o, StatusSnapshot) and "alert held while p/m is open at" in o.reason]
    assert {o.key.dedup_key for o in held} == {"p/m/country=US", "p/m/country=DE"}
    assert all(opened <= o.event_time < resolved for o in held)
    # the same, machine-readable: in the slo-status record (only while held) and for the metrics
    statuses = [o for o in outputs if isinstance(o, StatusSnapshot)]
    assert [o for o in statuses if o.alert_held_by is not None] == held
    assert {o.to_record().get("alert_held_by") for o in statuses} == {None, MODEL_KEY}
    assert all("alert_held_by" not in o.to_record() for o in statuses if o.alert_held_by is None)


def test_held_keys_are_exported_as_a_gauge():
    outputs = run(hold=True)
    statuses = [o for o in outputs if isinstance(o, StatusSnapshot) and o.key.segment == "country=US"]
    last_held = max(i for i, o in enumerate(statuses) if o.alert_held_by is not None)
    labels = {"slo": "p", "model_id": "m", "segment": "country=US"}
    metrics.record_status(statuses[last_held])
    assert REGISTRY.get_sample_value("slo_monitor_slo_alert_held", labels) == 1.0
    metrics.record_status(statuses[last_held + 1])
    assert REGISTRY.get_sample_value("slo_monitor_slo_alert_held", labels) == 0.0


def test_without_the_hold_every_breaching_segment_pages_its_own_incident():
    events = alerts(run(hold=False))
    opened, resolved = model_open_interval(events)
    under_the_model = {key for t, key, action, _ in events if key != MODEL_KEY and action == "trigger"
                       and opened <= t < resolved}
    assert under_the_model == {"p/m/country=US", "p/m/country=DE"}


@pytest.mark.parametrize("hold", [True, False])
def test_the_model_key_alerts_the_same_with_or_without_the_hold(hold):
    """Holding is about segments only: the whole model's alerts do not change."""
    model = [e for e in alerts(run(hold)) if e[1] == MODEL_KEY]
    assert model == [e for e in alerts(run(not hold)) if e[1] == MODEL_KEY] and model


def test_a_tracker_snapshot_from_before_the_held_field_restores():
    """A recovery snapshot's last status was pickled without `alert_held_by`: it reads as not held."""
    tracker = SloTracker(slo_file(True).slos[0], "country=DE")
    tracker.advance(T0 + 600)
    state = tracker.__getstate__()
    old = StatusSnapshot.__new__(StatusSnapshot)
    for name in StatusSnapshot.__slots__:
        if name != "alert_held_by":
            object.__setattr__(old, name, getattr(state["last_snapshot"], name))
    state["last_snapshot"] = pickle.loads(pickle.dumps(old))
    restored = SloTracker.__new__(SloTracker)
    restored.__setstate__(state)
    assert restored.last_snapshot.alert_held_by is None
    assert restored.last_snapshot.to_record() == tracker.last_snapshot.to_record()

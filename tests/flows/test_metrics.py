"""The status gauges: children looked up once per key, values always the latest snapshot's."""

from __future__ import annotations

import math

from prometheus_client import REGISTRY

from flows import metrics
from schemas.joined import JoinedRecord
from slo.spec import parse_slo_yaml
from slo.tracker import SloTracker

SPEC = parse_slo_yaml("slos: [{name: metrics-test, model_id: mt, metric: precision, positive_label: 1,"
                      " objective: 0.9, min_labels: 5}]").slos[0]


def _gauge(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"slo": "metrics-test", "model_id": "mt", "segment": "", **labels})


def test_each_status_sets_the_latest_values_of_its_key():
    tracker = SloTracker(SPEC)
    first, _ = tracker.advance(600.0)          # no labels yet
    metrics.record_status(first)
    assert first.state == "insufficient_data"
    assert math.isnan(_gauge("slo_monitor_slo_estimate"))
    assert _gauge("slo_monitor_slo_state", state="insufficient_data") == 1.0
    for i in range(10):
        tracker.observe(JoinedRecord(f"id{i}", "mt", "v1", 600.0 + 6 * i, 660.0 + 6 * i, 1, int(i != 3), 1.0))
    second, _ = tracker.advance(1260.0)
    metrics.record_status(second)
    assert second.state != "insufficient_data"
    assert _gauge("slo_monitor_slo_estimate") == second.estimate
    assert _gauge("slo_monitor_slo_labels_in_window") == second.labels
    assert _gauge("slo_monitor_slo_objective") == 0.9
    assert _gauge("slo_monitor_slo_evaluated_event_time_seconds") == 1260.0
    assert _gauge("slo_monitor_slo_state", state=second.state) == 1.0
    assert _gauge("slo_monitor_slo_state", state="insufficient_data") == 0.0
    for window, rate in second.burn_rates.items():
        value = _gauge("slo_monitor_slo_burn_rate", window=window)
        assert (math.isnan(value) if rate is None else value == rate)

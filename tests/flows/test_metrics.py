"""The status gauges: children looked up once per key, values always the latest snapshot's."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

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


def _reference_samples(snapshots) -> set[tuple]:
    """What prometheus-client Gauge children, set as `record_status` set them before it kept values
    for scrape time, export for `snapshots` (a private registry)."""
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()
    keys = ["slo", "model_id", "segment"]
    gauges = {name: Gauge(name, "reference", keys, registry=registry) for name in (
        "slo_monitor_slo_estimate", "slo_monitor_slo_lower_bound", "slo_monitor_slo_upper_bound",
        "slo_monitor_slo_objective", "slo_monitor_slo_labels_in_window", "slo_monitor_slo_evaluated_event_time_seconds")}
    burn = Gauge("slo_monitor_slo_burn_rate", "reference", [*keys, "window"], registry=registry)
    state = Gauge("slo_monitor_slo_state", "reference", [*keys, "state"], registry=registry)
    held = Gauge("slo_monitor_slo_alert_held", "reference", keys, registry=registry)
    nan = float("nan")
    for s in snapshots:
        labels = (s.key.slo, s.key.model_id, s.key.segment or "")
        for name, value in zip(gauges, (s.estimate, s.lower, s.upper, s.objective, s.labels, s.event_time)):
            gauges[name].labels(*labels).set(nan if value is None else value)
        for window, rate in s.burn_rates.items():
            burn.labels(*labels, window).set(nan if rate is None else rate)
        for name in metrics.STATES:
            state.labels(*labels, name).set(1.0 if name == s.state else 0.0)
        held.labels(*labels).set(0.0 if s.alert_held_by is None else 1.0)
    return _samples(registry, {s.key.slo for s in snapshots})


def _samples(registry, slos: set[str]) -> set[tuple]:
    return {(sample.name, tuple(sorted(sample.labels.items())), "nan" if math.isnan(sample.value) else sample.value)
            for family in registry.collect() for sample in family.samples if sample.labels.get("slo") in slos}


def test_scrape_time_gauges_export_what_gauge_children_did():
    spec = parse_slo_yaml("slos: [{name: metrics-same, model_id: ms, metric: precision, positive_label: 1,"
                          " objective: 0.9, min_labels: 5, segments: [country]}]").slos[0]
    from slo.routing import TrackerKey

    trackers = [SloTracker(spec, segment, TrackerKey(spec.name, "ms", segment)) for segment in (None, "country=US")]
    snapshots = []
    for step in range(1, 6):
        for tracker in trackers:
            for i in range(4 * step):
                tracker.observe(JoinedRecord(f"id{step}-{i}", "ms", "v1", 600.0 * step + i, 600.0 * step + 60 + i, 1,
                                             int(i % 5 != 0), 0.5))
            status, _ = tracker.advance(600.0 * step + 600.0)
            snapshots.append(status)
            metrics.record_status(status)
    assert {s.state for s in snapshots} >= {"insufficient_data"} and len({s.state for s in snapshots}) > 1
    exported = _samples(REGISTRY, {spec.name})
    assert exported == _reference_samples(snapshots)
    assert len(exported) == 2 * (7 + 4 + len(snapshots[-1].burn_rates))


@settings(max_examples=50, deadline=None)
@given(batches=st.lists(st.lists(st.floats(0.0, 30 * 86400.0), max_size=20), max_size=6))
@example(batches=[[60.0, 300.0], [0.0, 86400.0, 1e9]])   # on the bounds: "le" counts them in
def test_the_batch_histogram_exports_what_prometheus_clients_histogram_does(batches):
    from prometheus_client import CollectorRegistry, Histogram

    buckets = (60, 300, 900, 3600, 86400)
    reference_registry, registry = CollectorRegistry(), CollectorRegistry()
    reference = Histogram("delay_seconds", "reference", buckets=buckets, registry=reference_registry)
    subject = metrics.BatchHistogram("delay_seconds", "subject", buckets, registry)
    for batch in batches:
        for value in batch:
            reference.observe(value)
        subject.observe_all(batch)

    def samples(reg):
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in reg.collect() for s in family.samples if not s.name.endswith("_created")}

    expected, got = samples(reference_registry), samples(registry)
    assert expected.keys() == got.keys()
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-12, abs=1e-9), name

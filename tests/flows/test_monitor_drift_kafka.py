"""Drift in the running monitor (issue 8, part 5): on the real broker, an SLO with a ``drift:``
block gets drift records in slo-status, drift gauges in Prometheus, and its composite warning
as an alert of its own that comes before the labels reveal the precision drop.

The traffic is the simulator's feature_shift scenario, as in tests/drift/test_drift_feature_shift
(which drives the drift core directly): `amount` shifts at +6h, precision sags from +8h; reviews
take about an hour.
"""

from __future__ import annotations

import math

from prometheus_client import REGISTRY

from flows.drift_metrics import DRIFT_STATES
from simulator.model import Behaviour
from simulator.scenarios import feature_shift
from slo.snapshots import AlertEvent
from tests.flows.monitor_support import HOUR, START, monitor_topics, run_monitor, statuses_of, write_traffic
from tests.kafka_support import read_json

DRIFT_SLO = """
slos:
  - name: fraud-precision
    model_id: fraud-detector
    metric: precision
    positive_label: 1
    objective: 0.95
    window: 6h
    drift:
      reference: {kind: fixed, first: 4h}
      window: 2h
      bucket: 5m
      evaluate_every: 10m
"""
CHANGE_AT, DRIFT_LAG = 6 * HOUR, 2 * HOUR


def test_drift_warning_in_the_monitor_comes_before_the_precision_alert(kafka_bootstrap):
    topics = monitor_topics()
    scenario = feature_shift(Behaviour(label_delay_median=HOUR, label_delay_max=8 * HOUR),
                             change_at=CHANGE_AT, feature="amount", shift=1.5,
                             precision_after=0.92, drift_lag=DRIFT_LAG, ramp=HOUR)
    write_traffic(kafka_bootstrap, topics, scenario, hours=15, rate=8000, seed=1)
    outputs, _ = run_monitor(kafka_bootstrap, topics, DRIFT_SLO)

    # every 10 minutes of event time the model key's snapshot carries the drift evaluation
    model_statuses = statuses_of(outputs)
    with_drift = [s for s in model_statuses if s.drift is not None]
    assert with_drift and all(s.event_time % 600 == 0 for s in with_drift)
    assert len(with_drift) >= len(model_statuses) // 10 - 1
    pending = [s for s in with_drift if s.event_time < START + 4 * HOUR]
    assert pending and all(s.drift["status"] == "reference_pending" for s in pending)
    # before the change a feature may be judged drifted now and then (the tests control the
    # false discovery rate at 5% per evaluation), but the warning needs a proxy to get worse too
    before_change = [s for s in with_drift if START + 4.5 * HOUR <= s.event_time <= START + CHANGE_AT]
    assert before_change and not [s for s in before_change if s.drift["status"] == "warning"]
    first_drift = next(s for s in with_drift if s.event_time > START + CHANGE_AT
                       and "amount" in s.drift["drifted"])
    assert first_drift.event_time - START <= CHANGE_AT + HOUR

    # the composite warning is an alert of its own, before the precision alert
    alerts = [o for o in outputs if isinstance(o, AlertEvent)]
    drift_alerts = [a for a in alerts if a.signal == "drift"]
    precision_alerts = [a for a in alerts if a.signal == "slo" and a.action == "trigger"
                        and a.rule != "starvation" and a.key.segment is None]
    assert drift_alerts and drift_alerts[0].action == "trigger" and drift_alerts[0].severity == "warning"
    assert drift_alerts[0].dedup_key == "fraud-precision/fraud-detector#drift"
    assert drift_alerts[0].event_time - START >= CHANGE_AT + DRIFT_LAG
    assert precision_alerts and drift_alerts[0].event_time < precision_alerts[0].event_time
    lead = (precision_alerts[0].event_time - drift_alerts[0].event_time) / HOUR
    print(f"drift seen at +{(first_drift.event_time - START) / HOUR:.2f}h "
          f"({first_drift.drift['drifted']}), warning alert at "
          f"+{(drift_alerts[0].event_time - START) / HOUR:.2f}h, precision alert at "
          f"+{(precision_alerts[0].event_time - START) / HOUR:.2f}h: lead {lead:.2f}h")

    # the same on the topics: the drift record in slo-status, the alert with its own dedup key
    status_records = read_json(kafka_bootstrap, topics.status)
    assert sum(1 for r in status_records if "drift" in r) == len(with_drift)
    alert_records = read_json(kafka_bootstrap, topics.alerts)
    drift_records = [r for r in alert_records if r["signal"] == "drift"]
    assert drift_records[0]["dedup_key"].endswith("#drift") and drift_records[0]["action"] == "trigger"

    # a second run that reads in other batch sizes makes the same drift evaluations and alerts
    # (its first evaluation step depends on how the first batches fell; compare from +1h)
    again, _ = run_monitor(kafka_bootstrap, topics, DRIFT_SLO, batch_size=37)
    assert [(s.event_time, s.drift) for s in statuses_of(again)
            if s.drift is not None and s.event_time >= START + HOUR] == [
        (s.event_time, s.drift) for s in with_drift if s.event_time >= START + HOUR]
    assert [a for a in again if isinstance(a, AlertEvent) and a.signal == "drift"] == drift_alerts

    # and the gauges say what the last drift record said
    last = with_drift[-1].drift
    labels = {"slo": "fraud-precision", "model_id": "fraud-detector"}
    for state in DRIFT_STATES:
        value = REGISTRY.get_sample_value("slo_monitor_drift_state", {**labels, "state": state})
        assert value == (1.0 if state == last["status"] else 0.0)
    assert REGISTRY.get_sample_value("slo_monitor_drift_features_drifted", labels) == len(last["drifted"])
    p_value = REGISTRY.get_sample_value("slo_monitor_drift_feature_p_value", {**labels, "feature": "amount"})
    assert math.isclose(p_value, last["features"]["amount"]["p_value"])
    estimate = REGISTRY.get_sample_value("slo_monitor_estimated_metric", {**labels, "bound": "estimate"})
    expected = last["estimated_metric"]["estimate"]
    assert (math.isnan(estimate) and expected is None) or math.isclose(estimate, expected)

"""Prometheus metrics of the pipeline (per process; Prometheus sums across processes)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

_CHILDREN: dict[tuple[MetricWrapperBase, tuple[str, ...]], MetricWrapperBase] = {}


def labelled(metric: MetricWrapperBase, *values: str) -> MetricWrapperBase:
    """`metric.labels(*values)`, remembered: the flow calls it per record, and prometheus-client
    checks and locks on every `labels()` call (~2 us). Children are never removed here.

    >>> labelled(RECORDS_IN, "predictions") is labelled(RECORDS_IN, "predictions")
    True
    """
    key = (metric, values)
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = metric.labels(*values)
    return child


RECORDS_IN = Counter("slo_monitor_records_in_total", "Input records read", ["topic"])
DEAD_LETTERED = Counter(
    "slo_monitor_dead_lettered_total", "Input records sent to the dead-letter topic", ["topic"]
)
JOIN_OUTCOMES = Counter(
    "slo_monitor_join_outcomes_total",
    "What became of each input record in the join (joined, expired, duplicate, rejected)",
    ["outcome"],
)
JOIN_STATE_SIZE = Gauge(
    "slo_monitor_join_state_entries",
    "Pending predictions and labels plus remembered joined ids, in this process",
)
LABEL_DELAY = Histogram(
    "slo_monitor_label_delay_seconds",
    "Event time from a prediction to its label",
    buckets=(60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400),
)
KAFKA_ERRORS = Counter("slo_monitor_kafka_errors_total", "Errors reported by the Kafka consumers")

# -- per SLO key -------------------------------------------------------------------------------

_KEY_LABELS = ["slo", "model_id", "segment"]
SLO_ESTIMATE = Gauge("slo_monitor_slo_estimate", "Window estimate of the SLO metric (NaN when unknown)", _KEY_LABELS)
SLO_LOWER = Gauge("slo_monitor_slo_lower_bound", "Lower confidence bound of the estimate", _KEY_LABELS)
SLO_UPPER = Gauge("slo_monitor_slo_upper_bound", "Upper confidence bound of the estimate", _KEY_LABELS)
SLO_OBJECTIVE = Gauge("slo_monitor_slo_objective", "The SLO's objective", _KEY_LABELS)
SLO_LABELS = Gauge("slo_monitor_slo_labels_in_window", "Joined labels in the SLO window", _KEY_LABELS)
SLO_BURN_RATE = Gauge("slo_monitor_slo_burn_rate", "Error-budget burn rate per window", [*_KEY_LABELS, "window"])
SLO_STATE = Gauge(
    "slo_monitor_slo_state", "1 for the key's current state, 0 for the others", [*_KEY_LABELS, "state"]
)
SLO_EVALUATED_AT = Gauge(
    "slo_monitor_slo_evaluated_event_time_seconds", "Event time of the key's latest evaluation", _KEY_LABELS
)
EVALUATION_LAG = Gauge(
    "slo_monitor_evaluation_lag_seconds",
    "Wall-clock time minus the event time of the latest evaluation (how far behind live it runs)",
    ["slo"],
)
ALERT_EVENTS = Counter("slo_monitor_alert_events_total", "Alert lifecycle events written", ["slo", "action", "severity"])
STATES = ("ok", "at_risk", "breached", "insufficient_data")


def record_status(snapshot) -> None:
    """Export one slo-status snapshot as gauges (the latest one per key wins)."""
    labels = (snapshot.key.slo, snapshot.key.model_id, snapshot.key.segment or "")
    nan = float("nan")
    labelled(SLO_ESTIMATE, *labels).set(nan if snapshot.estimate is None else snapshot.estimate)
    labelled(SLO_LOWER, *labels).set(nan if snapshot.lower is None else snapshot.lower)
    labelled(SLO_UPPER, *labels).set(nan if snapshot.upper is None else snapshot.upper)
    labelled(SLO_OBJECTIVE, *labels).set(snapshot.objective)
    labelled(SLO_LABELS, *labels).set(snapshot.labels)
    labelled(SLO_EVALUATED_AT, *labels).set(snapshot.event_time)
    for window, rate in snapshot.burn_rates.items():
        labelled(SLO_BURN_RATE, *labels, window).set(nan if rate is None else rate)
    for state in STATES:
        labelled(SLO_STATE, *labels, state).set(1.0 if state == snapshot.state else 0.0)

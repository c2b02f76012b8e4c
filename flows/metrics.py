"""Prometheus metrics of the pipeline (per process; Prometheus sums across processes)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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

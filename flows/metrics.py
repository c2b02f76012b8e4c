"""Prometheus metrics of the pipeline (per process; Prometheus sums across processes)."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import REGISTRY, Counter, Gauge
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

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


class BatchHistogram:
    """A histogram fed a batch of values at a time, exported as prometheus-client's `Histogram`
    exports one (`_bucket`, `_count`, `_sum`; no `_created`).

    `Histogram.observe` takes a lock for the sum and for the bucket, ~1 us a value, and the join
    observes every joined label; here a batch costs a bisect and two additions a value. The flow's
    thread adds, a scrape reads: a scrape may see one batch half counted, never a count decrease.

    >>> from prometheus_client import CollectorRegistry
    >>> delays = BatchHistogram("delay_seconds", "Label delay", (60, 300), CollectorRegistry())
    >>> delays.observe_all([60.0, 100.0, 1000.0])
    >>> [(s.name, s.labels.get("le"), s.value) for s in delays.collect()[0].samples]
    [('delay_seconds_bucket', '60.0', 1), ('delay_seconds_bucket', '300.0', 2), \
('delay_seconds_bucket', '+Inf', 3), ('delay_seconds_count', None, 3), ('delay_seconds_sum', None, 1160.0)]
    """

    def __init__(self, name: str, documentation: str, buckets: tuple[float, ...], registry=REGISTRY) -> None:
        self.name = name
        self.documentation = documentation
        self._bounds = (*sorted(float(bound) for bound in buckets), math.inf)
        self._counts = [0] * len(self._bounds)   # per bucket, not cumulative
        self._sum = 0.0
        registry.register(self)

    def observe_all(self, values: Iterable[float]) -> None:
        counts, bounds, total = self._counts, self._bounds, 0.0
        for value in values:
            counts[bisect_left(bounds, value)] += 1   # the first bound >= value: "le"
            total += value
        self._sum += total

    def describe(self) -> list[HistogramMetricFamily]:
        return [HistogramMetricFamily(self.name, self.documentation)]

    def collect(self) -> list[HistogramMetricFamily]:
        cumulative, buckets = 0, []
        for bound, count in zip(self._bounds, list(self._counts)):
            cumulative += count
            buckets.append((floatToGoString(bound), cumulative))
        return [HistogramMetricFamily(self.name, self.documentation, buckets=buckets, sum_value=self._sum)]


LABEL_DELAY = BatchHistogram(
    "slo_monitor_label_delay_seconds",
    "Event time from a prediction to its label",
    (60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400),
)
KAFKA_ERRORS = Counter("slo_monitor_kafka_errors_total", "Errors reported by the Kafka consumers")

EVALUATION_LAG = Gauge(
    "slo_monitor_evaluation_lag_seconds",
    "Wall-clock time minus the event time of the latest evaluation (how far behind live it runs)",
    ["slo"],
)
ALERT_EVENTS = Counter("slo_monitor_alert_events_total", "Alert lifecycle events written", ["slo", "action", "severity"])


# -- per SLO key -------------------------------------------------------------------------------
#
# One series per key (and window, and state), set from every status snapshot. Keys are many
# (1,100 in the throughput benchmark) and each status would set 12 gauge children, so instead of
# prometheus-client children (~150 us to create the 12 of a key, ~2 us to set them per status)
# `record_status` keeps each key's latest values and these collectors turn them into samples when
# Prometheus scrapes. The exported names, help, labels and values are the same.

_KEY_LABELS = ("slo", "model_id", "segment")
STATES = ("ok", "at_risk", "breached", "insufficient_data")
_NAN = float("nan")
# (slo, model_id, segment or "") -> the latest status's (estimate, lower, upper, objective, labels,
# event_time, state, {window: burn rate}); the burn rates of every window ever reported stay
_LATEST: dict[tuple[str, str, str], tuple] = {}


def record_status(snapshot) -> None:
    """Export one slo-status snapshot as gauges (the latest one per key wins)."""
    key = snapshot.key
    labels = (key.slo, key.model_id, key.segment or "")
    burn_rates = snapshot.burn_rates
    previous = _LATEST.get(labels)
    if previous is not None and not previous[7].keys() <= burn_rates.keys():
        burn_rates = {**previous[7], **burn_rates}   # a window no longer reported keeps its last value
    _LATEST[labels] = (snapshot.estimate, snapshot.lower, snapshot.upper, snapshot.objective, snapshot.labels,
                       snapshot.event_time, snapshot.state, dict(burn_rates),
                       0.0 if snapshot.alert_held_by is None else 1.0)


def _number(value: float | None) -> float:
    return _NAN if value is None else float(value)


class _StatusGauge:
    """A registered collector of one per-key gauge; `samples(values)` gives (extra label values, value)
    for one key's latest values. `_labelnames` as prometheus-client's metrics name it (the dashboard
    test reads it to know a family's labels before any key has reported)."""

    def __init__(self, name: str, documentation: str, samples: Callable[[tuple], Iterator[tuple[tuple, float]]],
                 extra_label: str | None = None) -> None:
        self.name = name
        self.documentation = documentation
        self._labelnames = _KEY_LABELS + ((extra_label,) if extra_label else ())
        self._samples = samples
        REGISTRY.register(self)

    def describe(self) -> list[GaugeMetricFamily]:
        return [GaugeMetricFamily(self.name, self.documentation, labels=self._labelnames)]

    def collect(self) -> list[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self._labelnames)
        for labels, values in list(_LATEST.items()):   # a copy: the flow may add keys meanwhile
            for extra, value in self._samples(values):
                family.add_metric(labels + extra, value)
        return [family]


def _field(index: int) -> Callable[[tuple], Iterator[tuple[tuple, float]]]:
    def samples(values: tuple) -> Iterator[tuple[tuple, float]]:
        yield (), _number(values[index])
    return samples


def _burn_rates(values: tuple) -> Iterator[tuple[tuple, float]]:
    for window, rate in values[7].items():
        yield (window,), _number(rate)


def _states(values: tuple) -> Iterator[tuple[tuple, float]]:
    current = values[6]
    for state in STATES:
        yield (state,), 1.0 if state == current else 0.0


SLO_ESTIMATE = _StatusGauge("slo_monitor_slo_estimate", "Window estimate of the SLO metric (NaN when unknown)",
                            _field(0))
SLO_LOWER = _StatusGauge("slo_monitor_slo_lower_bound", "Lower confidence bound of the estimate", _field(1))
SLO_UPPER = _StatusGauge("slo_monitor_slo_upper_bound", "Upper confidence bound of the estimate", _field(2))
SLO_OBJECTIVE = _StatusGauge("slo_monitor_slo_objective", "The SLO's objective", _field(3))
SLO_LABELS = _StatusGauge("slo_monitor_slo_labels_in_window", "Joined labels in the SLO window", _field(4))
SLO_BURN_RATE = _StatusGauge("slo_monitor_slo_burn_rate", "Error-budget burn rate per window", _burn_rates,
                             "window")
SLO_STATE = _StatusGauge("slo_monitor_slo_state", "1 for the key's current state, 0 for the others", _states,
                         "state")
SLO_ALERT_HELD = _StatusGauge("slo_monitor_slo_alert_held",
                              "1 while the key's alert is held by the whole model's open alert "
                              "(alerting.hold_segment_alerts), else 0", _field(8))
SLO_EVALUATED_AT = _StatusGauge("slo_monitor_slo_evaluated_event_time_seconds",
                                "Event time of the key's latest evaluation", _field(5))

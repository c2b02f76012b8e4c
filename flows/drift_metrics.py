"""Prometheus gauges for the drift evaluation of each SLO with a ``drift:`` block.

Exported from the drift record on the model key's status snapshot (slo/drift/monitor.py
`DriftSnapshot.to_record`), so the gauges equal what `slo-status` says. Per-feature series are
bounded by the drift block's `max_features` (default 100).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Gauge

from slo.routing import TrackerKey

DRIFT_STATES = ("ok", "drift", "warning", "insufficient_data", "reference_pending")
_LABELS = ["slo", "model_id"]

DRIFT_STATE = Gauge("slo_monitor_drift_state", "1 for the drift evaluation's status, 0 for the others",
                    [*_LABELS, "state"])
DRIFTED_FEATURES = Gauge("slo_monitor_drift_features_drifted", "Features judged drifted (BH decision)", _LABELS)
FEATURE_P_VALUE = Gauge("slo_monitor_drift_feature_p_value", "Drift test p-value per feature (NaN if untested)",
                        [*_LABELS, "feature"])
FEATURE_PSI = Gauge("slo_monitor_drift_feature_psi", "PSI of the current window against the reference",
                    [*_LABELS, "feature"])
SCORE_P_VALUE = Gauge("slo_monitor_drift_score_p_value", "Drift test p-value of the model score", _LABELS)
ESTIMATED_METRIC = Gauge("slo_monitor_estimated_metric",
                         "Label-free (CBPE-style) estimate of the SLO metric and its bounds",
                         [*_LABELS, "bound"])
FLAGGED_RATE = Gauge("slo_monitor_flagged_rate", "Share of predictions flagged in the drift window", _LABELS)


def record_drift(key: TrackerKey, record: dict[str, Any]) -> None:
    """Export one drift record (the latest one per SLO wins)."""
    labels = (key.slo, key.model_id)
    for state in DRIFT_STATES:
        DRIFT_STATE.labels(*labels, state).set(1.0 if state == record.get("status") else 0.0)
    DRIFTED_FEATURES.labels(*labels).set(len(record.get("drifted") or ()))
    for name, column in (record.get("features") or {}).items():
        FEATURE_P_VALUE.labels(*labels, name).set(_number(column.get("p_value")))
        FEATURE_PSI.labels(*labels, name).set(_number(column.get("psi")))
    score = record.get("score") or {}
    SCORE_P_VALUE.labels(*labels).set(_number(score.get("p_value")))
    estimate = record.get("estimated_metric") or {}
    for bound in ("estimate", "lower", "upper"):
        ESTIMATED_METRIC.labels(*labels, bound).set(_number(estimate.get(bound)))
    rate = record.get("flagged_rate") or {}
    FLAGGED_RATE.labels(*labels).set(_number(rate.get("current")))


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)

"""The engine's outputs: a status snapshot per key and step, and alert lifecycle events.

`to_record()` gives the JSON-ready dicts of CONTRACT.md (slo-status, slo-alerts): exactly the
contract fields first, then extras. Times are event times (RFC 3339, UTC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slo.routing import TrackerKey
from schemas.timestamps import format_event_time as rfc3339


@dataclass(slots=True)
class StatusSnapshot:
    """One key's evaluation at one step: window counts, estimate, bounds, burn rates, state.

    Treat as immutable (not frozen only because frozen dataclasses are slow to build, and one
    is built per key and step).
    """

    key: TrackerKey
    event_time: float
    metric: str
    objective: float
    window: str
    estimate: float | None
    lower: float | None
    upper: float | None
    labels: int                          # all joined labels in the window
    state: str                           # ok | at_risk | breached | insufficient_data
    reason: str
    labels_in_metric: int = 0            # labels in the metric's denominator
    effective_sample_size: float = 0.0
    hit_weight: float = 0.0              # HT-weighted true positives
    miss_weight: float = 0.0             # HT-weighted false positives (precision) / negatives
    burn_rates: dict[str, float | None] = field(default_factory=dict)
    rules: tuple[str, ...] = ()          # rules whose condition holds (pending or firing)
    alert_id: str | None = None          # the open alert, if any
    alert_severity: str | None = None
    model_version: str | None = None
    predictions: int | None = None       # predictions in the window, when reported
    sequential: float | None = None      # CUSUM statistic
    compliance: dict[str, Any] | None = None
    last_healthy_version: str | None = None
    dropped_late: int = 0
    dropped_ahead: int = 0
    drift: dict[str, Any] | None = None  # the drift evaluation made at this step (model key)
    alert_held_by: str | None = None     # dedup key of the open alert holding this key's trigger back

    def to_record(self) -> dict[str, Any]:
        """The slo-status record."""
        return {
            "slo": self.key.slo,
            "model_id": self.key.model_id,
            "segment": self.key.segment,
            "event_time": rfc3339(self.event_time),
            "metric": self.metric,
            "objective": self.objective,
            "estimate": self.estimate,
            "lower": self.lower,
            "upper": self.upper,
            "labels": self.labels,
            "state": self.state,
            # extras
            "window": self.window,
            "reason": self.reason,
            "labels_in_metric": self.labels_in_metric,
            "effective_sample_size": self.effective_sample_size,
            "weighted": {"hits": self.hit_weight, "misses": self.miss_weight},
            "burn_rates": dict(self.burn_rates),
            "rules": list(self.rules),
            "alert": ({"alert_id": self.alert_id, "severity": self.alert_severity}
                      if self.alert_id else None),
            "model_version": self.model_version,
            "predictions": self.predictions,
            "sequential": self.sequential,
            "compliance": self.compliance,
            "last_healthy_version": self.last_healthy_version,
            "dropped": {"late": self.dropped_late, "ahead": self.dropped_ahead},
            **({"drift": self.drift} if self.drift is not None else {}),
            **({"alert_held_by": self.alert_held_by} if self.alert_held_by is not None else {}),
        }


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One alert lifecycle change (trigger, escalate or resolve) of one key."""

    alert_id: str
    key: TrackerKey
    action: str
    severity: str
    event_time: float
    model_version: str | None
    estimate: float | None
    lower: float | None
    upper: float | None
    labels: int
    reason: str
    rule: str = ""
    metric: str = ""
    objective: float = 0.0
    episode_start: float = 0.0
    burn_rates: dict[str, float | None] = field(default_factory=dict)
    remediation: tuple[str, ...] = ()    # the SLO's actions for this severity (trigger/escalate)
    last_healthy_version: str | None = None  # newest version that met the objective, not this one
    signal: str = "slo"                  # "slo" (burn rates) or "drift" (the label-free warning)

    @property
    def dedup_key(self) -> str:
        """The key's dedup key; another signal of the same key is its own incident.

        >>> AlertEvent("a", TrackerKey("p", "m"), "trigger", "warning", 0.0, None, None, None,
        ...            None, 0, "r", signal="drift").dedup_key
        'p/m#drift'
        """
        base = self.key.dedup_key
        return base if self.signal == "slo" else f"{base}#{self.signal}"

    def to_record(self) -> dict[str, Any]:
        """The slo-alerts record."""
        return {
            "alert_id": self.alert_id,
            "dedup_key": self.dedup_key,
            "action": self.action,
            "severity": self.severity,
            "slo": self.key.slo,
            "model_id": self.key.model_id,
            "segment": self.key.segment,
            "model_version": self.model_version,
            "event_time": rfc3339(self.event_time),
            "estimate": self.estimate,
            "lower": self.lower,
            "upper": self.upper,
            "labels": self.labels,
            "reason": self.reason,
            # extras
            "rule": self.rule,
            "metric": self.metric,
            "objective": self.objective,
            "episode_start": rfc3339(self.episode_start),
            "burn_rates": dict(self.burn_rates),
            "remediation": list(self.remediation),
            "last_healthy_version": self.last_healthy_version,
            "signal": self.signal,
        }


@dataclass(frozen=True, slots=True)
class DiagnosticSummary:
    """The data of an alert's diagnostic report (slo.diagnosis), for the `slo-diagnostics` topic."""

    alert_id: str
    key: TrackerKey
    event_time: float
    summary: dict[str, Any]

    def to_record(self) -> dict[str, Any]:
        return self.summary

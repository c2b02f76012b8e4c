"""The drift warning's lifecycle: trigger when the composite rule holds, resolve when it stops.

One `DriftAlerts` per SLO (its model key). Drift evaluations come every `evaluate_every` of
event time; each one either holds the composite warning (``status == "warning"``), clearly
does not (``ok`` or ``drift`` without a worse proxy), or cannot tell (``insufficient_data``,
``reference_pending``), which keeps the current state: an outage of traffic neither opens nor
closes an incident. The alert is its own incident (dedup key ``<slo>/<model>#drift``), so the
responder's inhibition holds it back while a burn-rate alert of the same key is open.

>>> from slo.drift.monitor import DriftSnapshot
>>> from slo.routing import TrackerKey
>>> from slo.spec import parse_slo_yaml
>>> spec = parse_slo_yaml('''
... slos:
...   - {name: p, model_id: m, metric: precision, positive_label: 1, objective: 0.9, drift: {}}
... ''').slos[0]
>>> alerts = DriftAlerts(spec)
>>> def snap(t, status):
...     return DriftSnapshot(t, status, f"{status} at {t}", {}, {})
>>> [trigger] = alerts.update(snap(3600.0, "warning"), "v2")
>>> trigger.action, trigger.severity, trigger.dedup_key
('trigger', 'warning', 'p/m#drift')
>>> alerts.update(snap(7200.0, "insufficient_data"), "v2"), alerts.update(snap(9000.0, "warning"), "v2")
([], [])
>>> [resolve] = alerts.update(snap(10800.0, "ok"), "v2")
>>> resolve.action, resolve.alert_id == trigger.alert_id
('resolve', True)
"""

from __future__ import annotations

from dataclasses import dataclass

from slo.drift.monitor import DriftSnapshot
from slo.policy import alert_id_for
from slo.routing import TrackerKey
from slo.snapshots import AlertEvent
from slo.spec import SloSpec

DRIFT_SIGNAL = "drift"
_UNDECIDED = ("insufficient_data", "reference_pending")
RULE = "drift_composite"


@dataclass
class _Episode:
    alert_id: str
    start: float
    severity: str


class DriftAlerts:
    """Open/closed state of one SLO's drift warning (plain, picklable)."""

    def __init__(self, spec: SloSpec) -> None:
        assert spec.drift is not None, "DriftAlerts needs an SLO with a drift block"
        self.spec = spec
        self.key = TrackerKey(spec.name, spec.model_id)
        self.episode: _Episode | None = None

    def update(self, snapshot: DriftSnapshot, model_version: str | None) -> list[AlertEvent]:
        """The lifecycle events this evaluation causes (none, a trigger or a resolve)."""
        rule = self.spec.drift.warning if self.spec.drift else None
        if rule is None or snapshot.status in _UNDECIDED:
            return []
        holds = snapshot.status == "warning"
        if holds and self.episode is None:
            dedup = f"{self.key.dedup_key}#{DRIFT_SIGNAL}"
            self.episode = _Episode(alert_id_for(dedup, snapshot.event_time), snapshot.event_time,
                                    rule.severity)
            return [self._event("trigger", snapshot, model_version)]
        if not holds and self.episode is not None:
            event = self._event("resolve", snapshot, model_version)
            self.episode = None
            return [event]
        return []

    def retire(self, reason: str, event_time: float, model_version: str | None) -> list[AlertEvent]:
        """Resolve the open warning, if any: nothing will evaluate this SLO's drift again."""
        if self.episode is None:
            return []
        last = DriftSnapshot(max(event_time, self.episode.start), "retired", reason, {}, {})
        event = self._event("resolve", last, model_version)
        self.episode = None
        return [event]

    def _event(self, action: str, snapshot: DriftSnapshot, model_version: str | None) -> AlertEvent:
        assert self.episode is not None
        metric = snapshot.metric
        reason = (f"Drift warning on {self.spec.model_id}: {snapshot.reason}" if action == "trigger"
                  else f"Drift warning on {self.spec.model_id} over: {snapshot.reason}")
        return AlertEvent(
            alert_id=self.episode.alert_id,
            key=self.key,
            action=action,
            severity=self.episode.severity,
            event_time=snapshot.event_time,
            model_version=model_version,
            estimate=metric.estimate if metric else None,
            lower=metric.lower if metric else None,
            upper=metric.upper if metric else None,
            labels=metric.realized_labels if metric else 0,
            reason=reason,
            rule=RULE,
            metric=self.spec.metric,
            objective=self.spec.objective,
            episode_start=self.episode.start,
            remediation=self.spec.remediation.get(self.episode.severity, ()) if action == "trigger" else (),
            signal=DRIFT_SIGNAL,
        )

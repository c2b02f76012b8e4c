"""What to page for each alert record: dedup of replays, inhibition, maintenance, routing moves.

A pure state machine (no I/O, no clock): the responder feeds it records in Kafka order and it
answers with PagerDuty orders. Because it is deterministic, the responder rebuilds it after a
restart by feeding it the partition's already-committed records again and discarding the orders.

Rules, per SLO key (``slo/model_id[/segment]``, the Kafka key, so one partition holds them all):

- *duplicate*: a record with an (alert_id, action, severity) already handled is not paged again
  (the monitor writes at least once; a replay repeats records);
- *trigger/escalate* opens or raises the incident of its dedup key and pages it, unless
  - the same incident is already open at a higher tier (*lower_tier*) or already paged at this
    tier (*already_open*: a restarted monitor re-triggering what PagerDuty already has),
  - a higher tier of another incident of the same SLO key is open (*inhibited*, as
    Alertmanager's inhibit rules: the lower one is not paged while the higher one is open),
  - the SLO is in a maintenance window at the record's event time (*maintenance*);
- when an escalation changes the routing target (tiers routed to different services), the
  new service is triggered first and the old one's incident resolved, so one incident stays open;
- *resolve* resolves the incident where it was paged; an incident never paged is closed quietly
  (*not_paged*). When an inhibiting incident resolves, incidents it held back and still open are
  paged now (the lower tier still matters once the higher one is gone).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from remediation.alert_record import SEVERITY_RANK, Alert
from remediation.maintenance import MaintenanceCalendar

Router = Callable[[str, str], str]
"""(slo, severity) -> routing target name, e.g. RoutingKeys.target_for."""

# Suppression rules (the `rule` of an audit record).
DUPLICATE = "duplicate"
LOWER_TIER = "lower_tier"
ALREADY_OPEN = "already_open"
INHIBITED = "inhibited"
MAINTENANCE = "maintenance"
NOT_PAGED = "not_paged"
UNKNOWN_INCIDENT = "unknown_incident"


@dataclass(frozen=True)
class PageOrder:
    """One event to send: trigger or resolve `dedup_key` at `target`, carrying `alert`."""

    event_action: str   # trigger | resolve
    dedup_key: str
    target: str
    alert: Alert
    cause: str          # why, for the audit record and the log


@dataclass(frozen=True)
class Suppressed:
    rule: str
    reason: str


@dataclass(frozen=True)
class Decision:
    """The orders a record causes, and why the record itself was not paged (if it was not)."""

    orders: tuple[PageOrder, ...] = ()
    suppressed: Suppressed | None = None


@dataclass
class Incident:
    """An open incident (one dedup key) of an SLO key, as far as paging knows."""

    dedup_key: str
    alert: Alert                    # latest record: its content is what a (late) page shows
    severity: str                   # highest tier seen in this episode
    paged_target: str | None = None  # where PagerDuty has it open; None: never paged
    paged_severity: str | None = None
    held: str | None = None         # rule that keeps the current tier from being paged


@dataclass
class PagingState:
    """Paging state of one Kafka partition of slo-alerts."""

    router: Router
    maintenance: MaintenanceCalendar = field(default_factory=MaintenanceCalendar)
    remember: int = 100_000         # signatures kept for duplicate detection
    keys: dict[str, dict[str, Incident]] = field(default_factory=dict)
    _seen: OrderedDict[tuple[str, str, str], None] = field(default_factory=OrderedDict)

    def decide(self, alert: Alert) -> Decision:
        """Advance the state with one record and say what to send."""
        if alert.signature in self._seen:
            self._seen.move_to_end(alert.signature)
            return Decision(suppressed=Suppressed(
                DUPLICATE, f"already handled {alert.action} at {alert.severity} of alert {alert.alert_id}"))
        self._seen[alert.signature] = None
        if len(self._seen) > self.remember:
            self._seen.popitem(last=False)
        incidents = self.keys.setdefault(alert.slo_key, {})
        if alert.action == "resolve":
            decision = self._resolve(alert, incidents)
        else:
            decision = self._raise(alert, incidents)
        if not incidents:
            del self.keys[alert.slo_key]
        return decision

    def open_incidents(self) -> list[Incident]:
        return [incident for incidents in self.keys.values() for incident in incidents.values()]

    # --- trigger and escalate --------------------------------------------------------------

    def _raise(self, alert: Alert, incidents: dict[str, Incident]) -> Decision:
        incident = incidents.get(alert.dedup_key)
        rank = SEVERITY_RANK[alert.severity]
        if incident is not None:
            if rank < SEVERITY_RANK[incident.severity]:
                return Decision(suppressed=Suppressed(
                    LOWER_TIER, f"incident {alert.dedup_key} is already open at {incident.severity}"))
            if incident.paged_severity == alert.severity and incident.held is None:
                incident.alert = alert
                return Decision(suppressed=Suppressed(
                    ALREADY_OPEN, f"incident {alert.dedup_key} is already paged at {alert.severity}"))
            incident.alert, incident.severity = alert, alert.severity
        else:
            incident = incidents[alert.dedup_key] = Incident(alert.dedup_key, alert, alert.severity)
        held = self._hold(incident, incidents, alert.event_time)
        if held is not None:
            incident.held = held.rule
            return Decision(suppressed=held)
        cause = "escalated" if alert.action == "escalate" else "breached"
        return Decision(orders=self._page(incident, f"{cause} at {alert.severity}"))

    def _hold(self, incident: Incident, incidents: dict[str, Incident], at: datetime) -> Suppressed | None:
        """Why `incident` must not be paged at event time `at`, or None."""
        alert = incident.alert
        window = self.maintenance.active(alert.slo, at)
        if window is not None:
            return Suppressed(MAINTENANCE, f"SLO {alert.slo} is in maintenance: {window.describe()}")
        rank = SEVERITY_RANK[incident.severity]
        for other in incidents.values():
            if other is not incident and SEVERITY_RANK[other.severity] > rank:
                return Suppressed(INHIBITED, f"inhibited by open {other.severity} incident {other.dedup_key}")
        return None

    def _page(self, incident: Incident, cause: str) -> tuple[PageOrder, ...]:
        alert = incident.alert
        target = self.router(alert.slo, incident.severity)
        orders = [PageOrder("trigger", incident.dedup_key, target, alert, cause)]
        if incident.paged_target is not None and incident.paged_target != target:
            orders.append(PageOrder("resolve", incident.dedup_key, incident.paged_target, alert,
                                    f"moved to {target} at {incident.severity}"))
        incident.paged_target, incident.paged_severity, incident.held = target, incident.severity, None
        return tuple(orders)

    # --- resolve ---------------------------------------------------------------------------

    def _resolve(self, alert: Alert, incidents: dict[str, Incident]) -> Decision:
        incident = incidents.pop(alert.dedup_key, None)
        if incident is None:
            return Decision(suppressed=Suppressed(
                UNKNOWN_INCIDENT, f"no open incident {alert.dedup_key} (already resolved or never seen)"))
        orders: list[PageOrder] = []
        suppressed = None
        if incident.paged_target is not None:
            orders.append(PageOrder("resolve", incident.dedup_key, incident.paged_target, alert, "recovered"))
        else:
            suppressed = Suppressed(NOT_PAGED, f"incident {alert.dedup_key} was never paged ({incident.held})")
        # Inhibition lifted: the highest tiers still open and held back are paged now.
        for other in sorted(incidents.values(), key=lambda i: -SEVERITY_RANK[i.severity]):
            if other.held == INHIBITED and self._hold(other, incidents, alert.event_time) is None:
                orders.extend(self._page(other, f"inhibition lifted: {incident.dedup_key} recovered"))
        return Decision(orders=tuple(orders), suppressed=suppressed)

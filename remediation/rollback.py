"""The rollback action: move the serving alias away from the breaching version, record the move on
the registry so it can be undone, then tell serving systems (model-control, webhook) and
PagerDuty (a change event).

Never half done. MLflow has no transactions, so the steps are ordered so that every state
between them is safe and recognisable, and `plan` (read-only) tells from the registry where a
previous attempt stopped:

1. tag the breaching version ``slo_monitor.breached`` (a fact; it also keeps it from ever being
   chosen as a rollback target);
2. tag the target ``slo_monitor.rollback`` = ``{state: pending, from_version, alert_id, ...}``:
   the undo information exists *before* the alias moves;
3. move the alias;
4. set the tag's state to ``done``; then announce.

A retry after a failure at any step plans again: alias still on the breaching version -> start
over (the tags are rewritten); alias on the target with this alert's pending tag -> finish (step
4); with its done tag -> only announce. If the executor gives up (MLflow unavailable for too
long) it first removes its pending tag, so a failed rollback leaves the alias and no claim behind.
The executor never gives up while a step that may have changed MLflow is unconfirmed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from remediation.action_handler import ActionFailed, ActionUnavailable, Applied, Plan, Publish, Skip
from remediation.alert_record import Alert
from remediation.change_events import ChangeEventSender, describe
from remediation.model_control import Webhook, model_control_message
from remediation.model_registry import MlflowRegistry, RegistryError, RegistryUnavailable, registry_version
from remediation.playbook_config import ROLLBACK, Playbook
from remediation.rollback_target import (
    BREACHED_TAG, DONE, PENDING, ROLLBACK_TAG, UNDONE, choose_target, decode_tag, encode_tag,
)

log = logging.getLogger(__name__)

MOVE, FINISH, ALREADY_DONE = "move", "finish", "already_done"


@dataclass(frozen=True)
class RollbackPlan:
    kind: str                        # move | finish | already_done
    registered_model: str
    alias: str
    from_version: str
    to_version: str
    why: str                         # why this target
    stale_pending: tuple[str, ...] = ()   # versions with a pending tag the alias never reached

    def details(self) -> dict[str, Any]:
        return {"registered_model": self.registered_model, "alias": self.alias, "from_version": self.from_version,
                "to_version": self.to_version, "target_reason": self.why, "step": self.kind}


class RollbackHandler:
    """Rollback through the MLflow Model Registry (see the module docstring)."""

    name = ROLLBACK

    def __init__(self, registry: MlflowRegistry | None, publish: Publish, control_topic: str = "model-control",
                 change_events: ChangeEventSender | None = None, webhook: Webhook | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.registry = registry
        self.publish = publish
        self.control_topic = control_topic
        self.change_events = change_events
        self.webhook = webhook
        self.now = now

    # --- plan (reads only) -----------------------------------------------------------------

    def plan(self, alert: Alert, playbook: Playbook) -> Plan | Skip:
        if self.registry is None:
            return Skip("no_registry", "no model registry configured (set MLFLOW_TRACKING_URI): cannot roll back")
        breaching = registry_version(alert.model_version)
        if breaching is None:
            return Skip("no_version", "the alert does not say which model version breached")
        name, alias = playbook.registered_model, playbook.alias
        try:
            versions = self.registry.versions(name)
            current = self.registry.alias_target(name, alias)
        except RegistryUnavailable as error:
            raise ActionUnavailable(f"MLflow at {self.registry.tracking_uri}: {error}", uncertain=False) from None
        except RegistryError as error:
            raise ActionFailed("registry_error", f"MLflow refused to describe {name}: {error}") from None
        if not versions:
            return Skip("not_registered", f"no registered model {name!r} in MLflow at {self.registry.tracking_uri}")
        if current is None:
            return Skip("no_alias", f"registered model {name} has no alias {alias!r}: nothing is served from it")
        stale = tuple(v.version for v in versions
                      if v.version != current and (v.rollback_record() or {}).get("state") == PENDING)
        if current != breaching:
            record = next((v.rollback_record() for v in versions if v.version == current), None) or {}
            if record.get("alert_id") == alert.alert_id and record.get("from_version") == breaching:
                kind = FINISH if record.get("state") == PENDING else ALREADY_DONE
                plan = RollbackPlan(kind, name, alias, breaching, current, str(record.get("reason", "")), stale)
                return Plan(f"{'finish' if kind == FINISH else 'announce'} the move of {alias} of {name} "
                            f"from version {breaching} to {current}", plan.details(), plan)
            return Skip("alias_moved", f"{alias} of {name} points to version {current}, not to the breaching "
                                       f"version {breaching}: it was changed since; left alone")
        target = choose_target(breaching, registry_version(alert.extras.get("last_healthy_version")), versions)
        if target.version is None:
            return Skip("no_target", target.reason)
        plan = RollbackPlan(MOVE, name, alias, breaching, target.version, target.reason, stale)
        return Plan(f"move {alias} of {name} from version {breaching} to {target.reason}", plan.details(), plan)

    # --- apply -----------------------------------------------------------------------------

    def apply(self, alert: Alert, playbook: Playbook, plan: Plan, *, late: bool = False) -> Applied:
        p: RollbackPlan = plan.payload
        registry = self.registry
        assert registry is not None
        name = p.registered_model
        try:
            for version in p.stale_pending:
                registry.delete_tag(name, version, ROLLBACK_TAG)
            if p.kind == MOVE:
                if late:
                    raise ActionFailed("mlflow_unavailable", f"gave up after MLflow was unavailable for too long; "
                                                             f"{p.alias} of {name} left at version {p.from_version}")
                registry.set_tag(name, p.from_version, BREACHED_TAG, self._breached_tag(alert))
                registry.set_tag(name, p.to_version, ROLLBACK_TAG, self._rollback_tag(alert, p, PENDING))
                try:
                    registry.set_alias(name, p.alias, p.to_version)
                except RegistryError:
                    _quietly(lambda: registry.delete_tag(name, p.to_version, ROLLBACK_TAG))
                    raise
                registry.set_tag(name, p.to_version, ROLLBACK_TAG, self._rollback_tag(alert, p, DONE))
            elif p.kind == FINISH:
                registry.set_tag(name, p.from_version, BREACHED_TAG, self._breached_tag(alert))
                registry.set_tag(name, p.to_version, ROLLBACK_TAG, self._rollback_tag(alert, p, DONE))
        except RegistryUnavailable as error:
            raise ActionUnavailable(f"MLflow at {registry.tracking_uri}: {error}", error.uncertain) from None
        except RegistryError as error:
            raise ActionFailed("registry_error", f"MLflow refused the rollback of {name}: {error}",
                               p.details()) from None
        log.warning("ROLLED BACK %s@%s from version %s to %s for alert %s (%s %s)", name, p.alias, p.from_version,
                    p.to_version, alert.alert_id, alert.slo, alert.severity)
        notified = self._announce(alert, p)
        how = {MOVE: "moved", FINISH: "moved (finished after an interrupted attempt)",
               ALREADY_DONE: "had been moved by an earlier attempt"}[p.kind]
        return Applied(f"{p.alias} of {name} {how} from version {p.from_version} to {p.to_version}; {p.why}",
                       p.details() | {"notified": notified})

    # --- announcing ------------------------------------------------------------------------

    def _announce(self, alert: Alert, p: RollbackPlan) -> dict[str, str]:
        reason = (f"SLO {alert.slo} {alert.severity} alert on version {p.from_version}: "
                  f"{alert.reason or 'objective breached'}")
        message = model_control_message(alert, registered_model=p.registered_model, alias=p.alias,
                                        from_version=p.from_version, to_version=p.to_version, reason=reason,
                                        issued_at=self.now())
        self.publish(self.control_topic, alert.model_id, message)
        notified = {"model_control": f"queued on {self.control_topic}"}
        notified["webhook"] = self.webhook.post(message) if self.webhook else "not configured"
        if self.change_events is not None:
            target = self.change_events.target_for(alert.slo, alert.severity)
            result = self.change_events.send_change(
                target, f"Rolled back {p.registered_model}@{p.alias} from version {p.from_version} to "
                        f"{p.to_version}: SLO {alert.slo} {alert.severity} breach", message, timestamp=self.now())
            notified["change_event"] = f"{describe(result)} ({target})"
        else:
            notified["change_event"] = "not configured"
        return notified

    # --- tags ------------------------------------------------------------------------------

    def _rollback_tag(self, alert: Alert, p: RollbackPlan, state: str) -> str:
        return encode_tag({"state": state, "alias": p.alias, "from_version": p.from_version,
                           "to_version": p.to_version, "alert_id": alert.alert_id, "slo": alert.slo,
                           "severity": alert.severity, "event_time": alert.event_time_text, "reason": p.why,
                           "at": _text(self.now())})

    def _breached_tag(self, alert: Alert) -> str:
        return encode_tag({"alert_id": alert.alert_id, "slo": alert.slo, "severity": alert.severity,
                           "event_time": alert.event_time_text, "estimate": alert.estimate, "lower": alert.lower,
                           "upper": alert.upper, "labels": alert.labels, "at": _text(self.now())})


def undo_rollback(registry: MlflowRegistry, name: str, alias: str = "champion",
                  now: datetime | None = None) -> tuple[str, str]:
    """Undo the last rollback of `name`: move `alias` back to the version it was moved from,
    mark the rollback tag ``undone`` and clear the breached mark of that version (a person
    decided it is fine). Returns (from, to) of the undone move; RegistryError if there is none."""
    current = registry.alias_target(name, alias)
    info = next((v for v in registry.versions(name) if v.version == current), None)
    record = decode_tag(info.tags.get(ROLLBACK_TAG)) if info else None
    if current is None or not record or record.get("state") != DONE or record.get("alias") != alias:
        raise RegistryError(f"{alias} of {name} (version {current}) is not where a rollback put it: nothing to undo")
    back = str(record["from_version"])
    registry.set_alias(name, alias, back)
    registry.set_tag(name, current, ROLLBACK_TAG, encode_tag(record | {"state": UNDONE, "undone_at": _text(now)}))
    registry.delete_tag(name, back, BREACHED_TAG)
    return back, current


def _text(moment: datetime | None) -> str:
    return (moment or datetime.now(UTC)).isoformat().replace("+00:00", "Z")


def _quietly(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except (RegistryError, RegistryUnavailable) as error:
        log.warning("cleanup failed (the next attempt retries it): %s", error)

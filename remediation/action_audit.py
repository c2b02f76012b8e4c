"""Audit records of remediation actions on ``remediation-actions``, and reading them back.

Same topic, key (``<slo>/<model_id>``) and sink as the pager's records (remediation/audit.py),
with ``service: "executor"`` and the action's name in ``action`` (``rollback``,
``raise_review_sampling``, ...). ``outcome`` is one of:

- ``done``: the action ran; ``dry_run``: it would have run (dry-run mode, nothing changed);
  ``proposed``: approval-only mode, a person is to apply it;
- ``skipped``: a guardrail or the world said no (``rule`` and ``reason`` say which and why);
- ``failed``: it could not be done (``rule``: ``registry_error``, ``mlflow_unavailable``...);
- ``expired``: a raised review rate went back to baseline.

Action-specific facts (versions, rates, notification results) are in ``details``. The executor
rebuilds its guardrail ledger from these records at start (`ledger_entry`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from remediation.alert_record import Alert
from remediation.audit import AuditRecord, audit_value
from remediation.guardrails import FINAL_OUTCOMES, TAKEN_OUTCOME, LedgerEntry
from remediation.playbook_config import KNOWN_ACTIONS

SERVICE = "executor"
EXPIRED = "expired"


def action_record(action: str, outcome: str, rule: str, reason: str, alert: Alert | None, *, mode: str,
                  details: dict[str, Any] | None = None, attempts: int | None = None,
                  identity: dict[str, Any] | None = None, now: datetime | None = None) -> AuditRecord:
    """One audit record. Without an alert (an expiry), `identity` gives slo and model_id."""
    value = audit_value(action, outcome, rule, reason, alert, now, mode=mode, details=details or {},
                        attempts=attempts, service=SERVICE)
    value.update(identity or {})
    key = alert.audit_key if alert else f"{value.get('slo') or 'unknown'}/{value.get('model_id') or 'unknown'}"
    return AuditRecord(key, value)


def ledger_entry(value: Any) -> LedgerEntry | None:
    """The guardrail ledger's view of an audit record; None for records that do not count
    (pages, skips, expiries, other tools' records)."""
    if not isinstance(value, dict) or value.get("service") != SERVICE or value.get("action") not in KNOWN_ACTIONS:
        return None
    outcome = value.get("outcome")
    if outcome not in FINAL_OUTCOMES and outcome not in TAKEN_OUTCOME.values():
        return None
    try:
        event_time = datetime.fromisoformat(str(value["event_time"]).replace("Z", "+00:00")).timestamp()
        return LedgerEntry(str(value["action"]), str(outcome), str(value["model_id"]), str(value["slo"]),
                           str(value["alert_id"]), event_time)
    except (KeyError, TypeError, ValueError):
        return None

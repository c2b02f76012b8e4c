"""Audit records of pages and of actions share one set of alert fields (remediation/audit.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from remediation.action_audit import action_record
from remediation.audit import page_record
from tests.remediation.support import alert

NOW = datetime(2026, 11, 26, 12, 5, tzinfo=UTC)
ALERT_FIELDS = {"alert_id", "dedup_key", "severity", "event_time", "alert_action", "slo", "model_id", "segment",
                "model_version"}


def test_a_page_and_an_action_on_one_alert_name_it_alike() -> None:
    breach = alert()
    page = page_record("sent", "tier", "paged", breach, event_action="trigger", target="tier:critical",
                       status=202, attempts=1, now=NOW)
    action = action_record("rollback", "done", "playbook", "rolled back", breach, mode="live", now=NOW)

    assert page.key == action.key == breach.audit_key
    assert {name: page.value[name] for name in ALERT_FIELDS} == {name: action.value[name] for name in ALERT_FIELDS}
    assert page.value["model_version"] == "7" and page.value["decided_at"] == "2026-11-26T12:05:00Z"
    assert (page.value["action"], page.value["http_status"], action.value["service"]) == ("page", 202, "executor")


def test_a_page_names_its_own_dedup_key_and_a_record_without_alert_has_null_alert_fields() -> None:
    assert page_record("sent", "moved", "moved", alert(), dedup_key="other", now=NOW).value["dedup_key"] == "other"
    unparsed = page_record("rejected", "invalid", "not an alert", None, key="p/m", now=NOW)
    assert unparsed.key == "p/m" and all(unparsed.value[name] is None for name in ALERT_FIELDS)

"""Guardrail decisions (pure): duplicates, min labels, cooldown per action and model, daily limit,
and dry-run/approval modes that count only against themselves."""

from __future__ import annotations

from remediation.action_audit import action_record, ledger_entry
from remediation.alert_record import Alert, parse_alert
from remediation.guardrails import ActionLedger, LedgerEntry, decide
from remediation.playbook_config import parse_playbook_config
from tests.remediation_actions.support import breach


def at(hours: float, alert_id: str, model_id: str = "m", **kw) -> Alert:
    """A critical breach of `model_id`, `hours` after 2026-11-26T12:00Z (event time)."""
    record = breach(0, model_id=model_id, alert_id=alert_id, **kw)
    base = parse_alert(record).event_time.timestamp()
    record["event_time"] = base + hours * 3600
    return parse_alert(record)


def book(data: dict | None = None, a: Alert | None = None):
    return parse_playbook_config(data or {}).playbook(a or at(0, "x"))


def taken(ledger: ActionLedger, a: Alert, action: str, outcome: str = "done") -> None:
    ledger.add(LedgerEntry(action, outcome, a.model_id, a.slo, a.alert_id, a.event_time.timestamp()))


def test_first_breach_runs_and_reason_names_where_the_playbook_came_from():
    a = at(0, "a1")
    verdict = decide(a, "rollback", book(a=a), ActionLedger())
    assert verdict.go and verdict.mode == "live"
    assert verdict.reason == ("critical alert on m v5: rollback runs, as the alert's remediation list "
                              "(SLO fraud-precision, critical) says")


def test_too_few_labels_or_unknown_label_count_skip_a_rollback_but_not_sampling():
    few = at(0, "a1", labels=99)
    assert decide(few, "rollback", book(), ActionLedger()).rule == "min_labels"
    assert decide(few, "raise_review_sampling", book(), ActionLedger()).go
    unknown = parse_alert({**breach(model_id="m", alert_id="a2"), "labels": None})
    verdict = decide(unknown, "rollback", book(), ActionLedger())
    assert (verdict.rule, verdict.reason) == ("min_labels", "the alert does not say how many labels its window "
                                                            "holds; rollback needs at least 100")
    strict = book({"defaults": {"rollback": {"min_labels": 500}}})
    assert "only 240 labels in the alert's window; rollback needs at least 500" == \
        decide(at(0, "a3"), "rollback", strict, ActionLedger()).reason


def test_cooldown_is_per_action_and_model_in_event_time():
    ledger = ActionLedger()
    first = at(0, "a1")
    taken(ledger, first, "rollback")
    assert decide(at(5.99, "a2"), "rollback", book(), ledger).rule == "cooldown"
    assert decide(at(6, "a3"), "rollback", book(), ledger).go                       # 6h later: allowed
    assert decide(at(-1, "late"), "rollback", book(), ledger).rule == "cooldown"    # earlier event time too
    assert decide(at(1, "a4"), "raise_review_sampling", book(), ledger).go          # other action
    assert decide(at(1, "a5", model_id="other"), "rollback", book(), ledger).go     # other model
    short = book({"slos": {"fraud-precision": {"rollback": {"cooldown": "30m"}}}})
    assert decide(at(0.5, "a6"), "rollback", short, ledger).go


def test_daily_limit_counts_every_action_on_the_model_over_24h():
    ledger = ActionLedger()
    limited = book({"defaults": {"max_actions_per_day": 2, "rollback": {"cooldown": "1m"},
                                 "raise_review_sampling": {"cooldown": "1m"}}})
    taken(ledger, at(0, "a1"), "rollback")
    taken(ledger, at(1, "a2"), "raise_review_sampling")
    verdict = decide(at(2, "a3"), "rollback", limited, ledger)
    assert verdict.rule == "daily_limit"
    assert verdict.reason.startswith("2 action(s) on m in the 24h before 2026-11-26T14:00:00Z "
                                     "(raise_review_sampling, rollback); the limit is 2 per day")
    assert decide(at(24.5, "a4"), "rollback", limited, ledger).go                   # the first aged out
    assert decide(at(2, "a5"), "rollback", book({"defaults": {"max_actions_per_day": None}}), ledger).rule == "cooldown"


def test_reports_change_nothing_so_the_daily_limit_neither_counts_nor_stops_them():
    ledger = ActionLedger()
    limited = book({"defaults": {"max_actions_per_day": 1, "rollback": {"cooldown": "1m"}}})
    taken(ledger, at(0, "a1"), "diagnostic_report")
    assert decide(at(1, "a2"), "rollback", limited, ledger).go        # the report did not count
    taken(ledger, at(1, "a2"), "rollback")
    assert decide(at(2, "a3"), "rollback", limited, ledger).rule == "daily_limit"
    assert decide(at(2, "a3"), "diagnostic_report", limited, ledger).go


def test_duplicates_of_any_final_decision_are_skipped_but_skips_are_decided_again():
    ledger = ActionLedger()
    a = at(0, "a1")
    taken(ledger, a, "rollback", "failed")
    assert decide(a, "rollback", book(), ledger).rule == "duplicate"
    assert decide(a, "raise_review_sampling", book(), ledger).go
    ledger.add(LedgerEntry("raise_review_sampling", "skipped", "m", "fraud-precision", "a1", a.event_time.timestamp()))
    assert decide(a, "raise_review_sampling", book(), ledger).go


def test_dry_run_and_approval_history_counts_only_for_their_own_mode():
    ledger = ActionLedger()
    dry = book({"defaults": {"dry_run": True}})
    approval = book({"defaults": {"approval_only": True}})
    assert decide(at(0, "a1"), "rollback", dry, ledger).mode == "dry_run"
    taken(ledger, at(0, "a1"), "rollback", "dry_run")
    assert decide(at(1, "a2"), "rollback", dry, ledger).rule == "cooldown"          # a dry run reads like live
    assert decide(at(1, "a2"), "rollback", book(), ledger).go                       # but does not block live
    verdict = decide(at(1, "a2"), "rollback", approval, ledger)
    assert verdict.go and verdict.mode == "approval" and "is proposed (approval-only" in verdict.reason
    assert book({"defaults": {"dry_run": True, "approval_only": True}}).mode == "dry_run"


def test_disabled_action_is_skipped():
    off = book({"slos": {"fraud-precision": {"rollback": {"enabled": False}}}})
    assert decide(at(0, "a1"), "rollback", off, ActionLedger()).rule == "disabled"


def test_ledger_is_rebuilt_from_audit_records_and_forgets_what_no_guardrail_needs():
    a = at(0, "a1")
    done = action_record("rollback", "done", "playbook", "moved", a, mode="live").value
    skipped = action_record("rollback", "skipped", "cooldown", "wait", a, mode="live").value
    page = {"action": "page", "outcome": "sent", "service": None}
    assert ledger_entry(done) == LedgerEntry("rollback", "done", "m", "fraud-precision", "a1", a.event_time.timestamp())
    assert ledger_entry(skipped) is None and ledger_entry(page) is None and ledger_entry(b"junk") is None
    ledger = ActionLedger(keep=86400)
    ledger.add(ledger_entry(done))
    assert ledger.handled("a1", "rollback") is not None
    taken(ledger, at(48, "later"), "raise_review_sampling")
    assert ledger.handled("a1", "rollback") is None and ledger.last_taken("m", "rollback", "done") is None

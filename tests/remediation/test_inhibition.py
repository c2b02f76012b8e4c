"""The paging state machine: one incident per episode, no double pages, inhibition, maintenance."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from remediation.inhibition import (
    ALREADY_OPEN,
    DUPLICATE,
    INHIBITED,
    LOWER_TIER,
    MAINTENANCE,
    NOT_PAGED,
    UNKNOWN_INCIDENT,
    PagingState,
)
from remediation.maintenance import MaintenanceCalendar, MaintenanceWindow
from tests.remediation.support import alert


def one_target(slo: str, severity: str) -> str:
    return "default"


def by_tier(slo: str, severity: str) -> str:
    return f"tier:{severity}"


def orders(decision) -> list[tuple[str, str, str, str]]:
    return [(o.event_action, o.dedup_key, o.target, o.alert.severity) for o in decision.orders]


K = "fraud-precision/fraud-detector"


def test_trigger_escalate_resolve_reach_one_incident() -> None:
    state = PagingState(one_target)
    assert orders(state.decide(alert("trigger", "warning", 1))) == [("trigger", K, "default", "warning")]
    assert orders(state.decide(alert("escalate", "critical", 2))) == [("trigger", K, "default", "critical")]
    assert orders(state.decide(alert("resolve", "critical", 3))) == [("resolve", K, "default", "critical")]
    assert state.keys == {}


def test_a_replayed_record_is_not_paged_twice() -> None:
    state = PagingState(one_target)
    state.decide(alert("trigger", "warning", 1))
    again = state.decide(alert("trigger", "warning", 1))
    assert again.orders == () and again.suppressed.rule == DUPLICATE
    # same alert, another action or tier: not a duplicate
    assert orders(state.decide(alert("escalate", "critical", 2))) == [("trigger", K, "default", "critical")]


def test_a_lower_tier_of_an_open_incident_is_not_paged() -> None:
    state = PagingState(one_target)
    state.decide(alert("trigger", "critical", 1))
    late = state.decide(alert("trigger", "warning", 2, alert_id="restarted-monitor"))
    assert late.orders == () and late.suppressed.rule == LOWER_TIER


def test_a_restarted_monitor_retriggering_at_the_same_tier_does_not_page_again() -> None:
    state = PagingState(one_target)
    state.decide(alert("trigger", "critical", 1))
    again = state.decide(alert("trigger", "critical", 5, alert_id="new-episode-id"))
    assert again.orders == () and again.suppressed.rule == ALREADY_OPEN
    # and its resolve still resolves the incident PagerDuty has
    assert orders(state.decide(alert("resolve", "critical", 9, alert_id="new-episode-id"))) == [
        ("resolve", K, "default", "critical")]


def test_lower_tier_is_inhibited_while_a_higher_tier_of_the_slo_key_is_open_then_paged() -> None:
    state = PagingState(one_target)
    state.decide(alert("trigger", "critical", 1, alert_id="fast-burn", dedup_key=f"{K}#fast"))
    held = state.decide(alert("trigger", "warning", 2, alert_id="slow-burn", dedup_key=f"{K}#slow"))
    assert held.orders == () and held.suppressed.rule == INHIBITED
    assert f"{K}#fast" in held.suppressed.reason
    lifted = state.decide(alert("resolve", "critical", 3, alert_id="fast-burn", dedup_key=f"{K}#fast"))
    assert orders(lifted) == [("resolve", f"{K}#fast", "default", "critical"),
                              ("trigger", f"{K}#slow", "default", "warning")]
    assert "inhibition lifted" in lifted.orders[1].cause


def test_an_inhibited_incident_that_recovers_first_is_never_paged() -> None:
    state = PagingState(one_target)
    state.decide(alert("trigger", "critical", 1, alert_id="a", dedup_key=f"{K}#a"))
    state.decide(alert("trigger", "info", 2, alert_id="b", dedup_key=f"{K}#b"))
    quiet = state.decide(alert("resolve", "info", 3, alert_id="b", dedup_key=f"{K}#b"))
    assert quiet.orders == () and quiet.suppressed.rule == NOT_PAGED
    assert orders(state.decide(alert("resolve", "critical", 4, alert_id="a", dedup_key=f"{K}#a"))) == [
        ("resolve", f"{K}#a", "default", "critical")]


def test_other_segments_and_slos_are_not_inhibited() -> None:
    state = PagingState(one_target)
    state.decide(alert("trigger", "critical", 1))
    assert orders(state.decide(alert("trigger", "warning", 1, segment="country=US")))[0][0] == "trigger"
    assert orders(state.decide(alert("trigger", "info", 1, slo="fraud-recall")))[0][0] == "trigger"


def test_maintenance_windows_hold_pages_by_event_time() -> None:
    window = MaintenanceWindow("fraud-precision", datetime(2026, 11, 26, 12, 0, tzinfo=UTC),
                               datetime(2026, 11, 26, 12, 30, tzinfo=UTC), "retraining")
    state = PagingState(one_target, MaintenanceCalendar([window]))
    held = state.decide(alert("trigger", "error", 10))
    assert held.orders == () and held.suppressed.rule == MAINTENANCE and "retraining" in held.suppressed.reason
    # still open and escalating after the window: paged then
    assert orders(state.decide(alert("escalate", "critical", 45))) == [("trigger", K, "default", "critical")]
    other = state.decide(alert("trigger", "error", 10, slo="fraud-recall"))
    assert other.orders  # the window is for one SLO only


def test_resolve_of_a_never_paged_incident_sends_nothing() -> None:
    window = MaintenanceWindow("*", datetime(2026, 11, 26, 12, tzinfo=UTC), datetime(2026, 11, 26, 13, tzinfo=UTC))
    state = PagingState(one_target, MaintenanceCalendar([window]))
    state.decide(alert("trigger", "critical", 1))
    quiet = state.decide(alert("resolve", "critical", 2))
    assert quiet.orders == () and quiet.suppressed.rule == NOT_PAGED


def test_resolve_without_an_open_incident_is_reported() -> None:
    decision = PagingState(one_target).decide(alert("resolve", "critical", 2))
    assert decision.orders == () and decision.suppressed.rule == UNKNOWN_INCIDENT


def test_escalation_to_another_service_moves_the_incident() -> None:
    state = PagingState(by_tier)
    state.decide(alert("trigger", "warning", 1))
    moved = state.decide(alert("escalate", "critical", 2))
    assert orders(moved) == [("trigger", K, "tier:critical", "critical"), ("resolve", K, "tier:warning", "critical")]
    assert orders(state.decide(alert("resolve", "critical", 3))) == [("resolve", K, "tier:critical", "critical")]


# --- properties over random alert streams ----------------------------------------------------

ACTIONS = st.sampled_from(["trigger", "escalate", "resolve"])
TIERS = st.sampled_from(["info", "warning", "error", "critical"])
STEP = st.tuples(ACTIONS, TIERS, st.sampled_from(["a", "b"]), st.sampled_from(["", "#x"]), st.booleans())


def stream(steps) -> list:
    out = []
    for minute, (action, tier, episode, dedup_suffix, segment) in enumerate(steps):
        out.append(alert(action, tier, minute % 60, alert_id=f"{episode}{dedup_suffix}",
                         segment="country=US" if segment else None,
                         dedup_key=(f"{K}/country=US" if segment else K) + dedup_suffix))
        if minute % 7 == 3:
            out.append(out[-1])  # at-least-once: some records arrive twice
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(STEP, max_size=40))
def test_pagerduty_sees_at_most_one_open_incident_per_dedup_key(steps) -> None:
    state = PagingState(by_tier)
    open_at: dict[str, set[str]] = {}       # dedup key -> targets where PagerDuty has it open
    for record in stream(steps):
        decision = state.decide(record)
        for order in decision.orders:
            targets = open_at.setdefault(order.dedup_key, set())
            if order.event_action == "trigger":
                targets.add(order.target)
            else:
                assert order.target in targets, "resolve sent where nothing was triggered"
                targets.discard(order.target)
        for key, targets in open_at.items():
            assert len(targets) <= 1, f"{key} open at {targets}: more than one incident for one episode"
        if record.action == "resolve" and decision.suppressed is None:
            assert not open_at.get(record.dedup_key), "resolved alert left open in PagerDuty"

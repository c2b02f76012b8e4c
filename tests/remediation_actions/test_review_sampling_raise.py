"""Raised review sampling (pure): the rate, the record, extension, and the two ways it ends."""

from __future__ import annotations

from typing import Any

from remediation.action_handler import Skip
from remediation.alert_record import parse_alert
from remediation.playbook_config import parse_playbook_config
from remediation.review_sampling_raise import RaiseSamplingHandler, Raise, SamplingRaises
from tests.remediation_actions.support import breach

CONFIG = parse_playbook_config({"defaults": {"raise_review_sampling": {"baseline": 0.05, "factor": 4,
                                                                       "cap": 0.5, "duration": "1h"}}})
WALL = 2_000_000_000.0           # the wall clock, far from the alerts' event times on purpose


class Clock:
    def __init__(self) -> None:
        self.now = WALL

    def __call__(self) -> float:
        return self.now


def handler() -> tuple[RaiseSamplingHandler, list[tuple[str, str, Any]], Clock]:
    sent: list[tuple[str, str, Any]] = []
    clock = Clock()
    handler = RaiseSamplingHandler(SamplingRaises(), lambda t, k, v: sent.append((t, k, v)), "review-sampling", clock)
    return handler, sent, clock


def raise_for(h: RaiseSamplingHandler, minute: int, alert_id: str, **kw: Any):
    alert = parse_alert(breach(minute, model_id="m", alert_id=alert_id, severity="error", **kw))
    book = CONFIG.playbook(alert)
    plan = h.plan(alert, book)
    return plan if isinstance(plan, Skip) else h.apply(alert, book, plan)


def test_publishes_baseline_times_factor_until_event_time_plus_duration():
    h, sent, _ = handler()
    applied = raise_for(h, 0, "a1")
    ((topic, key, value),) = sent
    assert (topic, key) == ("review-sampling", "m")
    assert {k: value[k] for k in ("model_id", "rate", "expires_at")} == {
        "model_id": "m", "rate": 0.2, "expires_at": "2026-11-26T13:00:00Z"}
    assert value["reason"] == ("SLO fraud-precision error alert a1: review 0.2 of m's predictions "
                               "(baseline 0.05) for 1h")
    assert value["baseline"] == 0.05 and value["ends_by"] == "2033-05-18T04:33:20Z"
    assert Raise.from_record(value) == h.raises.active("m")
    assert applied.details["rate"] == 0.2


def test_a_later_raise_extends_and_an_equal_one_is_skipped():
    h, sent, _ = handler()
    raise_for(h, 0, "a1")
    skip = raise_for(h, 0, "a2")
    assert isinstance(skip, Skip) and skip.rule == "already_raised"
    raise_for(h, 30, "a3")
    assert [v["expires_at"] for _, _, v in sent] == ["2026-11-26T13:00:00Z", "2026-11-26T13:30:00Z"]


def test_ends_when_a_later_alert_passes_expires_at_in_event_time():
    h, sent, clock = handler()
    raise_for(h, 0, "a1")
    start = parse_alert(breach(0, model_id="m")).event_time.timestamp()
    h.raises.observe_event_time("m", start + 3599)
    assert h.expire() == []
    h.raises.observe_event_time("m", start + 3600)
    ((ended, why),) = h.expire()
    assert why == "event time 2026-11-26T13:00:00Z is past expires_at 2026-11-26T13:00:00Z"
    assert sent[-1] == ("review-sampling", "m", None)                    # tombstone: back to baseline
    assert h.raises.active("m") is None and h.expire() == []


def test_ends_on_the_wall_clock_when_no_later_alert_comes():
    h, sent, clock = handler()
    raise_for(h, 0, "a1")
    clock.now += 3599
    assert h.expire() == []
    clock.now += 1
    ((_, why),) = h.expire()
    assert why.startswith("wall clock passed 2033-05-18T04:33:20Z")
    assert sent[-1] == ("review-sampling", "m", None)


def test_records_of_other_writers_are_not_taken_for_raises():
    assert Raise.from_record({"model_id": "m", "rate": 0.3, "expires_at": None, "reason": "manual"}) is None
    assert Raise.from_record("junk") is None

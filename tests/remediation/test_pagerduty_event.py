"""Alert record -> PagerDuty event: what the on-call engineer reads, and what PagerDuty accepts."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remediation.alert_record import InvalidAlert, parse_alert
from remediation.events_contract import MAX_EVENT_BYTES, validate_event
from remediation.pagerduty_event import LinkTemplates, pagerduty_dedup_key, resolve_event, trigger_event
from tests.remediation.support import KEY, alert, alert_dict


def with_key(event: dict) -> dict:
    return {**event, "routing_key": KEY}


@pytest.mark.parametrize("severity", ["critical", "error", "warning", "info"])
def test_trigger_event_carries_tier_identity_and_event_time(severity: str) -> None:
    a = alert("trigger", severity, 5, segment="country=US")
    event = trigger_event(a)
    assert validate_event(with_key(event)) == []
    assert event["event_action"] == "trigger"
    assert event["payload"]["severity"] == severity
    assert event["dedup_key"] == "fraud-precision/fraud-detector/country=US"
    assert event["payload"]["timestamp"] == "2026-11-26T12:05:00Z"
    assert event["payload"]["group"] == "fraud-precision"
    assert event["payload"]["component"] == "fraud-detector"
    assert "routing_key" not in event


def test_summary_says_what_broke_in_one_line() -> None:
    a = alert("escalate", "critical", segment="country=US", reason="Precision fell\nsharply after\tthe deploy.")
    text = trigger_event(a)["payload"]["summary"]
    assert text == ("[CRITICAL] escalated: SLO fraud-precision on fraud-detector (country=US) v7: precision "
                    "0.912 (0.890-0.931) below objective 0.950, 240 labels. Precision fell sharply after the deploy.")


def test_summary_is_cut_to_1024_characters() -> None:
    a = alert(reason="why " * 2000)
    text = trigger_event(a)["payload"]["summary"]
    assert len(text) == 1024 and text.endswith("…") and "\n" not in text


def test_custom_details_keep_everything_the_engine_knew() -> None:
    a = alert(window_counts={"flagged": 300, "labelled": 240}, state="breached")
    details = trigger_event(a)["payload"]["custom_details"]
    assert details["metric"] == "precision" and details["objective"] == 0.95
    assert (details["estimate"], details["lower"], details["upper"]) == (0.912, 0.89, 0.931)
    assert details["labels_in_window"] == 240
    assert details["window_counts"] == {"flagged": 300, "labelled": 240}
    assert details["burn_rates"] == {"1h": 14.2, "5m": 15.0}
    assert details["model_version"] == "7"
    assert details["top_segments"][0]["segment"] == "country=US"
    assert details["alert_id"] == a.alert_id and details["state"] == "breached"


def test_links_come_from_the_record_first_then_templates() -> None:
    templates = LinkTemplates(report="https://r.example/{slo}/{alert_id}",
                              dashboard="https://d.example/?slo={slo}&model={model_id}&seg={segment}")
    event = trigger_event(alert(segment="country=US"), templates)
    assert event["links"] == [
        {"href": "https://r.example/fraud-precision/ep-fraud-precision/fraud-detector/country=US",
         "text": "Diagnostic report"},
        {"href": "https://d.example/?slo=fraud-precision&model=fraud-detector&seg=country=US", "text": "SLO dashboard"},
    ]
    own = trigger_event(alert(report_url="https://reports.example/abc"), templates)
    assert own["links"][0]["href"] == "https://reports.example/abc"
    assert "links" not in trigger_event(alert())


def test_link_fields_are_url_quoted_so_a_segment_value_cannot_break_the_link() -> None:
    templates = LinkTemplates(dashboard="https://d.example/?slo={slo}&seg={segment}#panel")
    event = trigger_event(alert(segment="country=Côte d'Ivoire & more #1"), templates)
    assert event["links"][0]["href"] == ("https://d.example/?slo=fraud-precision"
                                         "&seg=country=C%C3%B4te%20d%27Ivoire%20%26%20more%20%231#panel")


def test_resolve_event_is_the_dedup_key_only() -> None:
    assert resolve_event("p/m") == {"event_action": "resolve", "dedup_key": "p/m"}


def test_long_dedup_keys_are_shortened_deterministically() -> None:
    a, b = "x" * 300, "x" * 299 + "y"
    assert len(pagerduty_dedup_key(a)) == 255
    assert pagerduty_dedup_key(a) == pagerduty_dedup_key(a) != pagerduty_dedup_key(b)


def test_huge_details_are_shrunk_under_512_kb_not_rejected() -> None:
    a = alert(top_segments=[{"segment": f"s={i}", "blob": "x" * 40_000} for i in range(30)],
              debug_dump="y" * 700_000)
    event = with_key(trigger_event(a))
    assert len(orjson.dumps(event)) <= MAX_EVENT_BYTES
    assert validate_event(event) == []
    assert event["payload"]["custom_details"]["debug_dump"] == "<omitted: 700002 bytes>"
    assert event["payload"]["custom_details"]["metric"] == "precision"


text = st.text(min_size=1, max_size=300)


@settings(max_examples=150, deadline=None)
@given(slo=text, model=text, segment=st.none() | text, version=st.none() | text, reason=st.none() | st.text(max_size=3000),
       dedup=st.text(min_size=1, max_size=400), severity=st.sampled_from(["critical", "error", "warning", "info"]),
       estimate=st.none() | st.floats(allow_nan=False, allow_infinity=False),
       extras=st.dictionaries(st.text(max_size=20), st.text(max_size=200) | st.integers(-2**63, 2**63 - 1),
                             max_size=5))
def test_any_valid_alert_becomes_an_event_pagerduty_accepts(slo, model, segment, version, reason, dedup, severity,
                                                             estimate, extras) -> None:
    record = alert_dict("trigger", severity, slo=slo, model_id=model, segment=segment, dedup_key=dedup,
                        model_version=version, reason=reason, estimate=estimate)
    record.update({k: v for k, v in extras.items() if k not in record})
    event = trigger_event(parse_alert(orjson.dumps(record)))  # as it arrives from Kafka
    assert validate_event(with_key(event)) == []
    summary = event["payload"]["summary"]
    assert len(summary) <= 1024 and "\n" not in summary and summary.startswith(f"[{severity.upper()}]")


@pytest.mark.parametrize("record, problem", [
    (b"not json", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (None, "tombstone"),
    (orjson.dumps({**alert_dict(), "action": "page"}), "action: must be one of"),
    (orjson.dumps({**alert_dict(), "severity": "sev1"}), "severity: must be one of"),
    (orjson.dumps({**alert_dict(), "event_time": "2026-11-26T12:00:00"}), "no time zone"),
    (orjson.dumps({k: v for k, v in alert_dict().items() if k != "alert_id"}), "alert_id: missing"),
    (orjson.dumps({**alert_dict(), "estimate": "high"}), "estimate: must be a number"),
])
def test_invalid_records_are_named_not_guessed(record, problem) -> None:
    with pytest.raises(InvalidAlert, match=problem):
        parse_alert(record)


def test_unknown_fields_are_kept_as_extras() -> None:
    a = parse_alert(orjson.dumps(alert_dict(future_field={"x": 1})))
    assert a.extras["future_field"] == {"x": 1} and a.slo_key == "fraud-precision/fraud-detector"

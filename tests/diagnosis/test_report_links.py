"""The page links the report at a URL made from the alert id alone (no coordination needed)."""

from __future__ import annotations

from remediation.alert_record import parse_alert
from remediation.pagerduty_event import LinkTemplates, trigger_event
from tests.remediation.support import kafka_record
from tests.remediation_actions.support import breach


def test_trigger_event_links_the_report_on_the_status_page():
    alert = parse_alert(kafka_record(breach(model_id="m", alert_id="68cc5ddf-9779-5cf5"))[1])
    event = trigger_event(alert, LinkTemplates(report_base_url="https://status.example.com/"))
    assert event["links"][0] == {"href": "https://status.example.com/reports/68cc5ddf-9779-5cf5.html",
                                 "text": "Diagnostic report"}
    assert event["payload"]["custom_details"]["report_url"] == event["links"][0]["href"]
    # an explicit template still wins, and without either there is no link
    templated = trigger_event(alert, LinkTemplates(report="https://r.example/{alert_id}",
                                                   report_base_url="https://status.example.com"))
    assert templated["links"][0]["href"] == "https://r.example/68cc5ddf-9779-5cf5"
    assert "links" not in trigger_event(alert)


def test_a_record_that_is_not_a_summary_is_refused_with_the_reason():
    import pytest

    from remediation.report.feed import parse_summary

    assert parse_summary(b"a-1", b'{"triage": {}}') == ("a-1", {"triage": {}})
    assert parse_summary(None, b'{"alert": {"alert_id": "a-2"}}')[0] == "a-2"
    for key, value, why in ((b"a", b"not json", "not JSON"), (b"a", b"[1]", "not a JSON object"),
                            (None, b"{}", "no alert id"), (b"a", None, "no value")):
        with pytest.raises(ValueError, match=why):
            parse_summary(key, value)

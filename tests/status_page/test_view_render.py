"""The status page's view and HTML without Kafka: bounds, escaping, alert lifecycle, reports."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from slo_monitor.status_page.render import render_page
from slo_monitor.status_page.view import Limits, StatusView
from tests.status_page.records import ALERT_ID, REPORT_FILE, XSS_SEGMENT, action_records, alert_records, status_records


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend(attrs)

    def handle_data(self, data):
        self.text.append(data)


def _filled(limits: Limits = Limits()) -> StatusView:
    view = StatusView(limits)
    for record in status_records():
        view.apply_status(record)
    for record in alert_records():
        view.apply_alert(record)
    for record in action_records():
        view.apply_action(record)
    return view


def test_segment_markup_is_shown_as_text_never_as_elements():
    parser = _Elements()
    parser.feed(render_page(_filled().snapshot()))
    assert "script" not in parser.tags and "img" not in parser.tags
    assert not any(name.startswith("on") for name, _ in parser.attributes)
    assert any(XSS_SEGMENT in chunk for chunk in parser.text), "the segment value is shown, as text"


def test_page_lists_every_key_with_its_state_chart_open_alert_and_report_link():
    html = render_page(_filled().snapshot())
    assert html.count('<div class="slo"') == 3
    assert html.count('<polyline class="estimate"') == 3 and html.count('<polygon class="band"') == 3
    assert ">breached</span>" in html and ">ok</span>" in html
    assert 'id="open-alerts"' in html and ALERT_ID not in html.split('id="open-alerts"')[0]
    assert f'href="/reports/{REPORT_FILE}"' in html


def test_resolve_closes_the_alert():
    view = _filled()
    view.apply_alert({**alert_records()[0], "action": "resolve"})
    snapshot = view.snapshot()
    assert snapshot["open_alerts"] == []
    assert [event["action"] for event in snapshot["alert_events"]] == ["resolve", "trigger"]


def test_memory_is_bounded_in_points_keys_and_actions():
    view = _filled(Limits(points_per_key=50, keys=2, alert_events=5, actions=1))
    snapshot = view.snapshot()
    assert len(snapshot["slos"]) == 2 and view.counts["keys_dropped"] == 120
    assert all(len(entry["points"]) == 50 for entry in snapshot["slos"])
    assert [a["action"] for a in snapshot["actions"]] == ["diagnostic_report"]


def test_a_replayed_older_snapshot_does_not_rewind_the_view():
    view = StatusView()
    records = status_records(minutes=3)
    for record in records:
        view.apply_status(record)
    view.apply_status(records[0])
    assert view.counts["status_out_of_order"] == 1
    assert [p[0] for p in view.snapshot()["slos"][0]["points"]] == sorted({p[0] for p in view.snapshot()["slos"][0]["points"]})


@pytest.mark.parametrize("record", [{"slo": "x"}, [], "text", {"slo": "a", "model_id": "b", "event_time": "soon", "state": "ok"}])
def test_unusable_status_records_are_refused_with_a_reason(record):
    with pytest.raises(ValueError):
        StatusView().apply_status(record)


def test_a_repeated_alert_event_is_shown_once():
    view = _filled()
    view.apply_alert(alert_records()[0])          # Kafka output is at least once
    snapshot = view.snapshot()
    assert len(snapshot["alert_events"]) == 1 and view.counts["alerts_repeated"] == 1


def test_status_of_an_slo_removed_from_the_file_is_counted_not_shown_and_its_open_alert_stays():
    """The topic still holds a removed SLO's history: the page shows the SLOs the monitor runs."""
    removed = [{**record, "slo": "retired-precision"} for record in status_records(minutes=5)]
    view = StatusView(slos=frozenset({"fraud-precision"}))
    for record in status_records(minutes=5) + removed:
        view.apply_status(record)
    view.apply_alert({**alert_records()[0], "slo": "retired-precision"})
    snapshot = view.snapshot()
    assert {entry["latest"]["slo"] for entry in snapshot["slos"]} == {"fraud-precision"}
    assert len(snapshot["slos"]) == 3 and view.counts["status_of_other_slos"] == len(removed)
    assert [alert["slo"] for alert in snapshot["open_alerts"]] == ["retired-precision"]   # still open at PagerDuty
    assert "retired-precision" not in render_page(snapshot).split('id="open-alerts"')[0]


def test_a_key_s_card_says_why_it_is_in_its_state_as_text():
    view = StatusView()
    record = status_records(minutes=1)[0]
    view.apply_status({**record, "reason": "precision 0.85 is below the 0.95 objective; alert held while "
                                           "fraud-precision/fraud-detector is open at critical <b>"})
    html = render_page(view.snapshot())
    assert ('<div class="reason">precision 0.85 is below the 0.95 objective; alert held while '
            'fraud-precision/fraud-detector is open at critical &lt;b&gt;</div>') in html

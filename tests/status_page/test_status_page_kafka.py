"""The status page on the real broker: records on the three topics reach the page, JSON and health;
reports are served from --reports-dir and nothing else is."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import orjson
import pytest

from flows.topics import ensure_topics
from slo_monitor.status_page import FeedTopics, start_status_page
from tests.kafka_support import produce, unique_topic
from tests.status_page.records import ALERT_ID, REPORT_FILE, XSS_SEGMENT, action_records, alert_records, status_records

pytestmark = pytest.mark.kafka


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def feed_topics(bootstrap: str, *, junk: bool = True) -> FeedTopics:
    topics = FeedTopics(unique_topic("sp-status"), unique_topic("sp-alerts"), unique_topic("sp-actions"))
    ensure_topics({"bootstrap.servers": bootstrap}, [topics.status, topics.alerts, topics.actions], 2)
    produce(bootstrap, topics.status, [(b"k", orjson.dumps(r)) for r in status_records()]
            + ([(b"k", b"{not json")] if junk else []))
    produce(bootstrap, topics.alerts, [(b"k", orjson.dumps(r)) for r in alert_records()])
    produce(bootstrap, topics.actions, [(b"k", orjson.dumps(r)) for r in action_records()] + [(b"k", None)])
    return topics


def wait_until_shown(url: str, statuses: int, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = orjson.loads(_get(url + "api/status")[2])
        if view["counts"].get("status", 0) >= statuses and view["counts"].get("actions", 0) >= 2:
            return view
        time.sleep(0.3)
    raise AssertionError(f"the page did not show the records in {timeout}s: {view['counts']}")


def test_page_json_metrics_health_and_reports_from_the_broker(kafka_bootstrap, tmp_path):
    topics = feed_topics(kafka_bootstrap)
    (tmp_path / REPORT_FILE).write_text("<html><body>report body</body></html>")
    page = start_status_page(kafka_bootstrap, topics, port=0, reports_dir=tmp_path)
    try:
        assert page.url.startswith("http://127.0.0.1:")
        view = wait_until_shown(page.url, statuses=360)
        assert [entry["key"] for entry in view["slos"]] == sorted(
            ["fraud-precision/fraud-detector", "fraud-precision/fraud-detector/country=US",
             f"fraud-precision/fraud-detector/{XSS_SEGMENT}"])
        assert [alert["alert_id"] for alert in view["open_alerts"]] == [ALERT_ID]
        assert view["reports"] == {ALERT_ID: REPORT_FILE}
        time.sleep(1)
        assert orjson.loads(_get(page.url + "api/status")[2])["counts"]["invalid"] == 1   # the junk record

        status, headers, body = _get(page.url)
        assert status == 200 and "script-src" not in headers["Content-Security-Policy"]
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        assert b"<script" not in body and b"&lt;script&gt;window.__xss=true&lt;/script&gt;" in body

        status, _, body = _get(page.url + "metrics")
        assert status == 200 and b'slo_monitor_status_page_records_total{result="shown"' in body
        assert _get(page.url + "healthz")[0] == 200
        assert _get(page.url + f"reports/{REPORT_FILE}") [2] == b"<html><body>report body</body></html>"
        assert _get(page.url + "reports/missing.html")[0] == 404
        assert _get(page.url + "reports/..%2Frecords.py")[0] == 404
        assert _get(page.url + "reports/../etc/passwd")[0] == 404
        request = urllib.request.Request(page.url, data=b"x", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 501   # no write endpoint at all
    finally:
        page.stop()

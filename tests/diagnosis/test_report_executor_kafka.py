"""The executor's diagnostic_report action on the real broker: summaries from slo-diagnostics,
reports on disk, audit records with the report's path and URL."""

from __future__ import annotations

import threading
from html.parser import HTMLParser

import orjson
import pytest

from tests.diagnosis.test_triage_causes import summary_of
from tests.kafka_support import produce, unique_topic
from tests.remediation.support import kafka_record
from tests.remediation_actions.support import audit, breach, playbooks, running, settings, settled, topics

pytestmark = pytest.mark.kafka
BASE_URL = "http://127.0.0.1:8088"


def summary_for(alert_id: str) -> tuple[bytes, bytes]:
    summary = orjson.loads(orjson.dumps(summary_of("labelling_problem")))
    summary["alert"]["alert_id"] = alert_id
    return alert_id.encode(), orjson.dumps(summary)


def test_trigger_with_diagnostic_report_writes_the_report_and_audits_its_path(kafka_bootstrap, tmp_path):
    config = playbooks({"slos": {"fraud-precision": {"playbook": {"critical": ["diagnostic_report"]}}}})
    with topics(kafka_bootstrap) as names:
        diagnostics = unique_topic("diagnostics")
        s = settings(kafka_bootstrap, names, tracking_uri=None, config=config, reports_dir=str(tmp_path),
                     diagnostics_topic=diagnostics, report_base_url=BASE_URL, report_wait=6.0)
        with running(s):
            # 1: the summary is there before the alert; 2: it arrives after the alert;
            # 3: it never arrives; plus a record on the topic that is not a summary
            produce(kafka_bootstrap, diagnostics, [summary_for("ep-before"), (b"ep-junk", b"not json")])
            produce(kafka_bootstrap, s.alerts_topic, [
                kafka_record(breach(0, model_id="m1", alert_id="ep-before")),
                kafka_record(breach(1, model_id="m1", alert_id="ep-after")),
                kafka_record(breach(2, model_id="m1", alert_id="ep-never"))])
            late = threading.Timer(1.5, produce, (kafka_bootstrap, diagnostics, [summary_for("ep-after")]))
            late.start()
            settled(kafka_bootstrap, s, 3, "three alerts", timeout=90)
            late.join()
    records = {a["alert_id"]: a for a in audit(kafka_bootstrap, s.actions_topic, "diagnostic_report")}
    for alert_id in ("ep-before", "ep-after"):
        record = records[alert_id]
        assert (record["outcome"], record["rule"]) == ("done", "playbook"), record
        details = record["details"]
        assert details["report_path"] == str(tmp_path / f"{alert_id}.html")
        assert details["report_url"] == f"{BASE_URL}/reports/{alert_id}.html"
        assert details["verdict"] == "labelling_problem"
        html = (tmp_path / f"{alert_id}.html").read_text(encoding="utf-8")
        HTMLParser().feed(html)
        assert "Labelling problem" in html and "<svg" in html
        assert orjson.loads((tmp_path / f"{alert_id}.json").read_bytes())["alert"]["alert_id"] == alert_id
    assert records["ep-after"]["attempts"] > 1          # it waited for the summary
    never = records["ep-never"]
    assert (never["outcome"], never["rule"]) == ("failed", "no_summary")
    assert "within 6s" in never["reason"]
    assert not (tmp_path / "ep-never.html").exists()

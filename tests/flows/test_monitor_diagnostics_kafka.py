"""The running monitor keeps the diagnostic sketch and publishes a report's data per alert
(issue 7 part 4): on the real broker, a bad model version's first trigger alert has a summary
on `slo-diagnostics`, keyed by its alert id, whose triage verdict is a version regression.
The flow keeps only the sketch's compact state: nothing re-reads Kafka.
"""

from __future__ import annotations

from simulator.scenarios import bad_version
from slo.snapshots import AlertEvent, DiagnosticSummary
from tests.flows.monitor_support import FAST_LABELS, FRAUD_SLO, HOUR, monitor_topics, run_monitor, write_traffic
from tests.kafka_support import read_all

SLO_WITH_REPORTS = FRAUD_SLO + """    remediation:
      critical: [diagnostic_report]
      error: [diagnostic_report]
      warning: [diagnostic_report]
"""


def test_each_opened_alert_has_a_summary_on_the_diagnostics_topic(kafka_bootstrap):
    topics = monitor_topics()
    write_traffic(kafka_bootstrap, topics, bad_version(FAST_LABELS, change_at=3 * HOUR, precision_after=0.8),
                  hours=5, rate=4000, seed=5)
    outputs, _ = run_monitor(kafka_bootstrap, topics, SLO_WITH_REPORTS)

    opened = [o for o in outputs if isinstance(o, AlertEvent) and o.action in ("trigger", "escalate")]
    summaries = {o.alert_id: o for o in outputs if isinstance(o, DiagnosticSummary)}
    assert opened and {a.alert_id for a in opened} == set(summaries)
    first = next(a for a in opened if a.key.segment is None and a.rule != "starvation")
    summary = summaries[first.alert_id].summary
    assert summary["alert"]["alert_id"] == first.alert_id
    assert summary["triage"]["verdict"] == "version_regression", summary["triage"]
    versions = {row["value"]: row for row in summary["versions"]}
    assert versions["v2"]["worse"] and not versions["v1"]["worse"]
    assert summary["timeline"]["points"], "the SLO timeline comes from the engine's statuses"

    records = read_all(kafka_bootstrap, topics.diagnostics)
    keys = [key.decode() for key, _ in records]
    assert set(keys) == set(summaries) and len(keys) == len(opened)  # one record per trigger/escalate


def test_an_slo_without_reports_keeps_no_sketch(kafka_bootstrap):
    topics = monitor_topics()
    write_traffic(kafka_bootstrap, topics, bad_version(FAST_LABELS, change_at=1 * HOUR, precision_after=0.8),
                  hours=2, rate=4000, seed=6)
    outputs, slo_file = run_monitor(kafka_bootstrap, topics, FRAUD_SLO)
    assert not slo_file.slos[0].needs_prediction_details
    assert any(isinstance(o, AlertEvent) for o in outputs)
    assert not any(isinstance(o, DiagnosticSummary) for o in outputs)
    assert read_all(kafka_bootstrap, topics.diagnostics) == []

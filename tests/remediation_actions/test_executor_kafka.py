"""The executor on the real broker, the real MLflow server and the local PagerDuty receiver."""

from __future__ import annotations

import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from remediation.receiver import LocalEventsApi
from tests.kafka_support import produce
from tests.remediation.support import kafka_record
from tests.kafka_support import free_port
from tests.remediation_actions.mlflow_support import FaultyProxy, register_model
from tests.remediation_actions.support import (
    audit,
    breach,
    outcomes,
    playbooks,
    records,
    running,
    settings,
    settled,
    topics,
)

pytestmark = pytest.mark.kafka


class WebhookSink:
    """A local HTTP endpoint that keeps the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        bodies: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                bodies.append(orjson.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.bodies = bodies
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/rollbacks"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def champion(client: Any, name: str) -> str:
    return client.get_model_version_by_alias(name, "champion").version


def test_critical_breach_rolls_back_once_announces_it_and_the_next_breach_waits_for_the_cooldown(
        kafka_bootstrap, mlflow_server, mlflow_client):
    name = register_model(mlflow_client)
    first = breach(5, model_id=name, alert_id="ep-first")
    hook = WebhookSink()
    try:
        with topics(kafka_bootstrap) as names, LocalEventsApi() as api:
            s = settings(kafka_bootstrap, names, tracking_uri=mlflow_server.url, api=api, webhook_url=hook.url)
            with running(s):
                # the record twice, as an at-least-once writer may deliver it
                produce(kafka_bootstrap, s.alerts_topic, [kafka_record(first), kafka_record(first)])
                settled(kafka_bootstrap, s, 2, "first breach")
                assert champion(mlflow_client, name) == "4"
                # a second breach 30 minutes later, now on version 4: inside the 6h cooldown
                produce(kafka_bootstrap, s.alerts_topic,
                        [kafka_record(breach(35, model_id=name, version="4", last_healthy="3", alert_id="ep-second"))])
                settled(kafka_bootstrap, s, 3, "second breach")
            assert champion(mlflow_client, name) == "4"

            control = records(kafka_bootstrap, s.model_control_topic)
            assert [(k, v["from_version"], v["to_version"], v["alert_id"]) for k, v in control] == [
                (name, "5", "4", "ep-first")]
            assert set(control[0][1]) >= {"model_id", "from_version", "to_version", "reason", "alert_id"}
            changes = api.changes()
            assert len(changes) == 1
            assert changes[0].summary == (f"Rolled back {name}@champion from version 5 to 4: "
                                          "SLO fraud-precision critical breach")
            assert changes[0].custom_details["alert_id"] == "ep-first"
            assert [b["to_version"] for b in hook.bodies] == ["4"]

            rollbacks = audit(kafka_bootstrap, s.actions_topic, "rollback")
            assert [(a["alert_id"], a["outcome"], a["rule"]) for a in rollbacks] == [
                ("ep-first", "done", "playbook"), ("ep-first", "skipped", "duplicate"),
                ("ep-second", "skipped", "cooldown")]
            done, _, cooled = rollbacks
            assert done["details"]["to_version"] == "4" and done["details"]["from_version"] == "5"
            assert done["details"]["notified"] == {
                "model_control": f"queued on {s.model_control_topic}", "webhook": "accepted (HTTP 204, attempt 1)",
                "change_event": "accepted (default)"}
            assert cooled["reason"].startswith(f"rollback on {name} ran for alert ep-first at 2026-11-26T12:05:00Z; "
                                               "its cooldown of 6h lasts until 2026-11-26T18:05:00Z")
            assert {k for k, _ in records(kafka_bootstrap, s.actions_topic)} == {f"fraud-precision/{name}"}
            assert ("diagnostic_report", "skipped", "no_handler") in outcomes(kafka_bootstrap, s.actions_topic)

            # restarted with a fresh group (everything re-read): the ledger, rebuilt from the audit
            # topic, knows what was done; nothing is rolled back or announced again
            again = replace(s, group_id=s.group_id + "-restarted")
            with running(again):
                settled(kafka_bootstrap, again, 3, "replay")
            assert champion(mlflow_client, name) == "4"
            assert len(records(kafka_bootstrap, s.model_control_topic)) == 1 and len(api.changes()) == 1
            replayed = [(a["alert_id"], a["rule"]) for a in audit(kafka_bootstrap, s.actions_topic, "rollback")][3:]
            assert replayed == [("ep-first", "duplicate"), ("ep-first", "duplicate"), ("ep-second", "cooldown")]
    finally:
        hook.close()


def test_dry_run_changes_nothing_but_audits_what_it_would_do_and_approval_only_proposes(
        kafka_bootstrap, mlflow_server, mlflow_client):
    name, other = register_model(mlflow_client), register_model(mlflow_client)
    config = playbooks({"defaults": {"dry_run": True},
                        "slos": {"fraud-recall": {"dry_run": False, "approval_only": True}}})
    with topics(kafka_bootstrap) as names, LocalEventsApi() as api:
        s = settings(kafka_bootstrap, names, tracking_uri=mlflow_server.url, api=api, config=config)
        with running(s):
            produce(kafka_bootstrap, s.alerts_topic, [
                kafka_record(breach(model_id=name, alert_id="ep-dry")),
                kafka_record(breach(20, model_id=name, alert_id="ep-dry-2")),
                kafka_record(breach(model_id=other, alert_id="ep-approve", slo="fraud-recall",
                                    remediation=["rollback"]))])
            settled(kafka_bootstrap, s, 3, "alerts")
        assert champion(mlflow_client, name) == "5" and champion(mlflow_client, other) == "5"
        assert mlflow_client.get_model_version(name, "4").tags == {}
        assert records(kafka_bootstrap, s.model_control_topic) == []
        assert records(kafka_bootstrap, s.review_sampling_topic) == []
        assert api.changes() == []
        decided = audit(kafka_bootstrap, s.actions_topic)
        assert [(a["action"], a["outcome"], a["rule"], a["mode"]) for a in decided] == [
            ("rollback", "dry_run", "playbook", "dry_run"),
            ("raise_review_sampling", "dry_run", "playbook", "dry_run"),
            ("diagnostic_report", "skipped", "no_handler", "dry_run"),
            ("rollback", "skipped", "cooldown", "dry_run"),              # as live mode would decide
            ("raise_review_sampling", "skipped", "cooldown", "dry_run"),
            ("diagnostic_report", "skipped", "no_handler", "dry_run"),
            ("rollback", "proposed", "playbook", "approval")]
        assert decided[0]["reason"].startswith(f"dry run, nothing changed: would move champion of {name} "
                                               "from version 5 to version 4")
        assert decided[0]["details"]["to_version"] == "4"
        assert decided[1]["details"]["rate"] == 0.2
        assert decided[-1]["reason"].startswith(f"approval required: proposes to move champion of {other} "
                                                "from version 5 to version 4")


def test_mlflow_failing_mid_rollback_is_retried_until_done_exactly_once(kafka_bootstrap, mlflow_server, mlflow_client):
    name = register_model(mlflow_client)
    with topics(kafka_bootstrap) as names, FaultyProxy(mlflow_server.url) as proxy:
        # the first three alias moves fail with 503; the fourth goes through
        proxy.fail("POST", "registered-models/alias", 503, count=3)
        s = settings(kafka_bootstrap, names, tracking_uri=proxy.url,
                     config=playbooks({"slos": {"fraud-precision": {"playbook": {"critical": ["rollback"]}}}}))
        with running(s):
            produce(kafka_bootstrap, s.alerts_topic, [kafka_record(breach(model_id=name, alert_id="ep-flaky"))])
            settled(kafka_bootstrap, s, 1, "rollback")
    assert champion(mlflow_client, name) == "4"
    assert [r for r in proxy.seen() if "registered-models/alias" in r[1] and r[0] == "POST"] == [
        ("POST", "/api/2.0/mlflow/registered-models/alias", "fault")] * 3 + [
        ("POST", "/api/2.0/mlflow/registered-models/alias", "forwarded")]
    (done,) = audit(kafka_bootstrap, s.actions_topic, "rollback")
    assert (done["outcome"], done["attempts"]) == ("done", 4)
    assert len(records(kafka_bootstrap, s.model_control_topic)) == 1
    assert mlflow_client.get_model_version(name, "4").tags["slo_monitor.rollback"].find('"state":"done"') > 0


class ExplodingReport:
    """A diagnostic_report handler with a bug (the executor takes extra handlers, as part 4 will)."""

    name = "diagnostic_report"

    def plan(self, alert: Any, playbook: Any) -> Any:
        raise KeyError("top_segments")

    def apply(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("not reached")


def test_mlflow_down_fails_the_rollback_with_nothing_changed_and_the_playbook_goes_on(
        kafka_bootstrap, mlflow_client, mlflow_server):
    name = register_model(mlflow_client)
    with topics(kafka_bootstrap) as names:
        s = settings(kafka_bootstrap, names, tracking_uri=f"http://127.0.0.1:{free_port()}", give_up_after=1.5)
        with running(s, handlers={"diagnostic_report": ExplodingReport()}):
            produce(kafka_bootstrap, s.alerts_topic, [kafka_record(breach(model_id=name, alert_id="ep-down"))])
            settled(kafka_bootstrap, s, 1, "give up")
        assert champion(mlflow_client, name) == "5"
        assert records(kafka_bootstrap, s.model_control_topic) == []
        decided = audit(kafka_bootstrap, s.actions_topic)
        assert [(a["action"], a["outcome"], a["rule"]) for a in decided] == [
            ("rollback", "failed", "unavailable"), ("raise_review_sampling", "done", "playbook"),
            ("diagnostic_report", "failed", "internal_error")]                # a bug fails one action only
        assert decided[0]["attempts"] > 2
        assert "gave up after 1.5s of failed attempts" in decided[0]["reason"]
        assert "connection refused" in decided[0]["reason"]

"""The responder as a process (`python -m remediation.responder_cli`): killed, stopped, restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from remediation.receiver import LocalEventsApi
from tests.kafka_support import REPO, produce, read_json, unique_topic
from tests.remediation.support import KEY, alert_dict, committed, create_topic, kafka_record, wait_for

pytestmark = pytest.mark.kafka

K1, K2 = "fraud-precision/fraud-detector", "fraud-recall/fraud-detector"


class ResponderProcess:
    """One run of the CLI; its log goes to a file (a full pipe would stall it)."""

    def __init__(self, log_dir: Path, bootstrap: str, api: LocalEventsApi, alerts: str, actions: str,
                 group: str, *extra: str):
        self.log_path = log_dir / f"responder-{uuid.uuid4().hex[:6]}.log"
        env = {**os.environ, "PAGERDUTY_ROUTING_KEY": KEY, **api.env(), "PYTHONPATH": str(REPO)}
        command = [sys.executable, "-m", "remediation.responder_cli", "--bootstrap-servers", bootstrap,
                   "--alerts-topic", alerts, "--actions-topic", actions, "--group-id", group,
                   "--instance-id", "responder-under-test", "--http-retries", "1", "--http-retry-sleep", "0.05",
                   "--backoff-initial", "0.2", "--backoff-max", "1", *extra]
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self._log.close()

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(15)
        self._log.close()
        return code


@pytest.fixture()
def kafka_topics(kafka_bootstrap) -> tuple[str, str, str]:
    return create_topic(kafka_bootstrap, "alerts"), unique_topic("actions"), f"responder-{uuid.uuid4().hex[:8]}"


def test_sigkill_while_paging_then_restart_sends_the_page(kafka_bootstrap, kafka_topics, tmp_path) -> None:
    alerts, actions, group = kafka_topics
    with LocalEventsApi() as api:
        api.state.hold(then="drop")          # PagerDuty "receives" the request and never answers
        produce(kafka_bootstrap, alerts, [kafka_record(alert_dict("trigger", "critical", 1))])
        first = ResponderProcess(tmp_path, kafka_bootstrap, api, alerts, actions, group)
        wait_for(lambda: any(r.held for r in api.requests()), what="the page in flight")
        first.kill()                         # between receiving the alert and paging it
        api.state.release()                  # the held request is dropped: no incident
        assert api.incidents() == [] and committed(kafka_bootstrap, group, alerts) < 0

        second = ResponderProcess(tmp_path, kafka_bootstrap, api, alerts, actions, group)
        wait_for(lambda: api.incidents(), what="the page after restart")
        wait_for(lambda: committed(kafka_bootstrap, group, alerts) == 1, what="commit")
        assert second.terminate() == 0
        assert [(i.dedup_key, i.severity, i.actions) for i in api.incidents()] == [(K1, "critical", ["trigger"])]
    assert [a["outcome"] for a in read_json(kafka_bootstrap, actions)] == ["sent"]
    assert KEY not in first.log() + second.log()


def test_sigkill_after_pagerduty_accepted_resends_into_the_same_incident(kafka_bootstrap, kafka_topics,
                                                                        tmp_path) -> None:
    """At-least-once toward PagerDuty: the offset was not committed, so the page goes again;
    PagerDuty's dedup key folds it into the open incident instead of opening a second one."""
    alerts, actions, group = kafka_topics
    with LocalEventsApi() as api:
        api.state.hold(then="process")
        produce(kafka_bootstrap, alerts, [kafka_record(alert_dict("trigger", "critical", 1))])
        first = ResponderProcess(tmp_path, kafka_bootstrap, api, alerts, actions, group)
        wait_for(lambda: any(r.held for r in api.requests()), what="the page in flight")
        first.kill()
        api.state.release()
        wait_for(lambda: api.incidents(), what="PagerDuty processing the held page")

        second = ResponderProcess(tmp_path, kafka_bootstrap, api, alerts, actions, group)
        wait_for(lambda: committed(kafka_bootstrap, group, alerts) == 1, what="commit")
        assert second.terminate() == 0
        assert [(i.dedup_key, i.status, i.actions) for i in api.incidents()] == [(K1, "triggered", ["trigger", "trigger"])]


def test_sustained_outage_exhausts_retries_survives_a_restart_and_delivers_in_order(
        kafka_bootstrap, kafka_topics, tmp_path) -> None:
    alerts, actions, group = kafka_topics
    scenario = [alert_dict("trigger", "critical", 1), alert_dict("trigger", "error", 2, slo="fraud-recall"),
                alert_dict("resolve", "critical", 3)]
    with LocalEventsApi() as api:
        api.fail(503, seconds=600)           # down until healed below
        produce(kafka_bootstrap, alerts, [kafka_record(r) for r in scenario])
        first = ResponderProcess(tmp_path, kafka_bootstrap, api, alerts, actions, group)
        # Each delivery attempt is 2 requests (1 try + 1 client retry); wait for 3 attempts.
        wait_for(lambda: len(api.requests()) >= 6, what="bounded retries exhausted several times")
        assert "attempt 3" in first.log() or "attempt 2" in first.log()
        assert committed(kafka_bootstrap, group, alerts) < 0, "committed during the outage"
        assert first.terminate() == 0        # SIGTERM mid-outage: clean stop, nothing committed
        assert "responder stopped" in first.log() and committed(kafka_bootstrap, group, alerts) < 0

        second = ResponderProcess(tmp_path, kafka_bootstrap, api, alerts, actions, group)
        before = len(api.requests())
        wait_for(lambda: len(api.requests()) >= before + 2, what="retries after restart")
        api.state.heal()                     # PagerDuty is back
        wait_for(lambda: committed(kafka_bootstrap, group, alerts) == 3, what="delivery after the outage")
        assert second.terminate() == 0
        assert [(i.dedup_key, i.status, i.severities) for i in api.incidents()] == [
            (K1, "resolved", ["critical"]), (K2, "triggered", ["error"])]
        delivered = [(r.event_action, r.dedup_key) for r in api.requests() if r.status == 202]
        assert delivered == [("trigger", K1), ("trigger", K2), ("resolve", K1)]
        assert all(r.dedup_key == K1 and r.event_action == "trigger"
                   for r in api.requests() if r.status == 503), "the head blocked the queue"
    audit = read_json(kafka_bootstrap, actions)
    assert [a["outcome"] for a in audit] == ["sent", "sent", "sent"]
    assert KEY not in first.log() + second.log()

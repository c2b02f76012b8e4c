"""PagerDuty change events through the official client, against the local receiver's
/v2/change/enqueue (validated and kept), and the model-control message and webhook."""

from __future__ import annotations

import ssl
import urllib.request
from datetime import UTC, datetime

import orjson

from remediation.alert_record import parse_alert
from remediation.change_events import ChangeEventSender, describe
from remediation.delivery import HttpRetryPolicy, Outcome
from remediation.model_control import Webhook, model_control_message
from remediation.receiver import LocalEventsApi
from remediation.routing_keys import RoutingConfig, RoutingKeys
from tests.remediation.support import KEY
from tests.kafka_support import free_port
from tests.remediation_actions.support import breach

RETRY = HttpRetryPolicy(retries=1, first_sleep=0.05, timeout=5.0)


def sender(api: LocalEventsApi, environ: dict[str, str]) -> ChangeEventSender:
    keys = RoutingKeys(RoutingConfig.from_environment(environ), environ)
    return ChangeEventSender(keys, api.url, api.ca_file, RETRY)


def test_change_event_is_accepted_and_kept_by_the_receiver():
    when = datetime(2026, 11, 26, 12, 5, tzinfo=UTC)
    with LocalEventsApi() as api:
        s = sender(api, {"PAGERDUTY_ROUTING_KEY": KEY})
        result = s.send_change("default", "Rolled back m@champion from version 5 to 4", {"to_version": "4"},
                               timestamp=when)
        assert (result.outcome, describe(result)) == (Outcome.ACCEPTED, "accepted")
        (change,) = api.changes()
        assert (change.summary, change.source, change.timestamp, change.custom_details) == (
            "Rolled back m@champion from version 5 to 4", "slo-monitor executor", "2026-11-26T12:05:00Z",
            {"to_version": "4"})
        with urllib.request.urlopen(urllib.request.Request(f"{api.url}/_receiver/changes"),
                                    context=ssl.create_default_context(cafile=api.ca_file)) as r:
            assert orjson.loads(r.read())["changes"][0]["summary"].startswith("Rolled back")
        assert api.incidents() == []                                    # a change is not an incident
        s.close()


def test_invalid_change_event_is_rejected_and_no_key_means_logged():
    with LocalEventsApi() as api:
        bad = sender(api, {"PAGERDUTY_ROUTING_KEY": "too-short"})
        result = bad.send_change("default", "x", {})
        assert result.outcome is Outcome.REJECTED and result.status == 400
        assert "Length of 'routing_key' is incorrect" in result.detail
        none = sender(api, {})
        assert none.send_change("default", "x", {}).outcome is Outcome.LOGGED
        assert api.changes() == []


def test_model_control_message_and_a_webhook_that_is_down():
    alert = parse_alert(breach(model_id="fraud-detector", alert_id="ep-1"))
    message = model_control_message(alert, registered_model="fd-prod", alias="champion", from_version="5",
                                    to_version="4", reason="breach",
                                    issued_at=datetime(2026, 11, 26, 12, 6, tzinfo=UTC))
    assert message == {"model_id": "fraud-detector", "from_version": "5", "to_version": "4", "reason": "breach",
                       "alert_id": "ep-1", "command": "rollback", "registered_model": "fd-prod", "alias": "champion",
                       "model_uri": "models:/fd-prod@champion", "slo": "fraud-precision", "severity": "critical",
                       "event_time": "2026-11-26T12:00:00Z", "issued_at": "2026-11-26T12:06:00Z"}
    port = free_port()                                                   # nothing listens there
    hook = Webhook(f"http://127.0.0.1:{port}/hook?token=abc", timeout=1, attempts=2, pause=0.01)
    assert hook.post(message) == "failed: URLError: [Errno 111] Connection refused after 2 attempt(s)"
    assert hook.describe() == f"http://127.0.0.1:{port}/hook"                  # no query (may hold a token)
    assert Webhook("https://user:secret@hooks.example/x").describe() == "https://hooks.example/x"

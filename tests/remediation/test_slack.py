"""The optional Slack channel: chosen tiers only, best effort, URL kept secret."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from remediation.inhibition import PageOrder
from remediation.pagerduty_event import LinkTemplates, resolve_event, trigger_event
from remediation.receiver import LocalEventsApi
from remediation.slack import SlackNotifier, SlackSettings
from tests.kafka_support import produce
from tests.remediation.support import (
    KEY,
    alert,
    alert_dict,
    committed,
    create_topic,
    fast_settings,
    kafka_record,
    running,
    unique_topic,
    wait_for,
)


class Hook:
    """A local stand-in for a Slack incoming webhook (plain HTTP on loopback)."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.status = 200
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                hook.posts.append(orjson.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                body = b"ok" if hook.status == 200 else b"invalid_payload"
                self.send_response(hook.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/secret-token-xyz"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture()
def hook() -> Iterator[Hook]:
    pytest.importorskip("slack_sdk")
    h = Hook()
    yield h
    h.server.shutdown()


def notifier(hook: Hook, severities=("warning", "info")) -> SlackNotifier:
    return SlackNotifier(SlackSettings(severities=severities), {"SLACK_WEBHOOK_URL": hook.url})


def page(action: str, severity: str, alert_action: str | None = None) -> tuple[PageOrder, dict]:
    a = alert(alert_action or ("resolve" if action == "resolve" else "trigger"), severity)
    event = trigger_event(a, LinkTemplates(dashboard="https://d.example/{slo}")) if action == "trigger" \
        else resolve_event(a.dedup_key)
    return PageOrder(action, a.dedup_key, "default", a, "test"), event


def test_only_chosen_tiers_are_posted(hook: Hook) -> None:
    slack = notifier(hook)
    assert slack.notify(*page("trigger", "warning")) is True
    assert slack.notify(*page("trigger", "critical")) is False
    assert len(hook.posts) == 1
    post = hook.posts[0]
    assert post["text"].startswith(":large_yellow_circle: [WARNING] breached: SLO fraud-precision")
    assert "<https://d.example/fraud-precision|SLO dashboard>" in orjson.dumps(post["blocks"]).decode()


def test_recoveries_are_posted_but_moves_between_services_are_not(hook: Hook) -> None:
    slack = notifier(hook)
    assert slack.notify(*page("resolve", "warning")) is True
    assert slack.notify(*page("resolve", "warning", alert_action="escalate")) is False
    assert len(hook.posts) == 1
    assert hook.posts[0]["text"].startswith(":white_check_mark: [RESOLVED] fraud-precision/fraud-detector: ")


def test_a_failing_slack_is_logged_without_its_url(hook: Hook, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    hook.status = 500
    assert notifier(hook).notify(*page("trigger", "info")) is False
    assert "Slack answered 500" in caplog.text
    assert "secret-token-xyz" not in caplog.text


def test_without_url_or_package_slack_is_disabled(monkeypatch, caplog) -> None:
    assert not SlackNotifier(SlackSettings(), {}).enabled
    monkeypatch.setitem(sys.modules, "slack_sdk.webhook", None)   # as if slack-sdk were not installed
    assert not SlackNotifier(SlackSettings(), {"SLACK_WEBHOOK_URL": "http://127.0.0.1:9/x"}).enabled
    assert "slack-sdk package is not installed" in caplog.text


@pytest.mark.kafka
def test_the_responder_posts_warning_pages_to_slack_too(kafka_bootstrap, hook: Hook) -> None:
    alerts, actions = create_topic(kafka_bootstrap, "alerts"), unique_topic("actions")
    env = {"PAGERDUTY_ROUTING_KEY": KEY, "SLACK_WEBHOOK_URL": hook.url}
    with LocalEventsApi() as api:
        settings = fast_settings(kafka_bootstrap, api, alerts, actions, slack=SlackSettings(severities=("warning",)))
        produce(kafka_bootstrap, alerts, [kafka_record(alert_dict("trigger", "warning", 1)),
                                          kafka_record(alert_dict("trigger", "critical", 1, slo="fraud-recall"))])
        with running(settings, env) as thread:
            wait_for(lambda: committed(kafka_bootstrap, settings.group_id, alerts) == 2, what="settled")
            assert hook.url in thread.service.secrets()
        assert len(api.incidents()) == 2                 # both paged in PagerDuty
    assert [p["text"].split(":")[1] for p in hook.posts] == ["large_yellow_circle"]   # only the warning

"""The responder on the real broker and the local Events API (responder in a thread)."""

from __future__ import annotations

import logging
import os
from dataclasses import replace

import pytest

from remediation.receiver import DROP, LocalEventsApi
from remediation.routing_keys import KeySource, RoutingConfig
from tests.kafka_support import produce, read_all, read_json, unique_topic
from tests.remediation.support import (
    KEY,
    OTHER_KEY,
    alert_dict,
    committed,
    create_topic,
    fast_settings,
    incident_view,
    kafka_record,
    running,
    wait_for,
)

pytestmark = pytest.mark.kafka

K1 = "fraud-precision/fraud-detector"


def topics(bootstrap: str) -> tuple[str, str]:
    return create_topic(bootstrap, "alerts"), unique_topic("actions")


def accepted(api: LocalEventsApi) -> list[tuple[str | None, str | None, str | None]]:
    return [(r.event_action, r.dedup_key, r.severity) for r in api.requests() if r.status == 202]


def test_breach_opens_one_incident_escalates_it_and_resolves_it(kafka_bootstrap) -> None:
    alerts, actions = topics(kafka_bootstrap)
    with LocalEventsApi() as api:
        settings = fast_settings(kafka_bootstrap, api, alerts, actions)
        with running(settings):
            produce(kafka_bootstrap, alerts, [kafka_record(alert_dict("trigger", "warning", 1))])
            wait_for(lambda: incident_view(api) == [(K1, "triggered", "warning", ["warning"])], what="trigger")
            produce(kafka_bootstrap, alerts, [kafka_record(alert_dict("escalate", "critical", 2))])
            wait_for(lambda: incident_view(api) == [(K1, "triggered", "critical", ["warning", "critical"])],
                     what="escalation")
            produce(kafka_bootstrap, alerts, [kafka_record(alert_dict("resolve", "critical", 3))])
            wait_for(lambda: committed(kafka_bootstrap, settings.group_id, alerts) == 3, what="commit")
        assert incident_view(api) == [(K1, "resolved", "critical", ["warning", "critical"])]
        page = api.incidents()[0]
        assert page.timestamp == "2026-11-26T12:02:00Z"
        assert page.summary.startswith("[CRITICAL] escalated: SLO fraud-precision on fraud-detector v7")
        assert page.custom_details["burn_rates"] == {"1h": 14.2, "5m": 15.0}
    records = read_all(kafka_bootstrap, actions)
    assert {key for key, _ in records} == {b"fraud-precision/fraud-detector"}
    audit = read_json(kafka_bootstrap, actions)
    assert [(a["outcome"], a["event_action"], a["severity"], a["alert_action"]) for a in audit] == [
        ("sent", "trigger", "warning", "trigger"), ("sent", "trigger", "critical", "escalate"),
        ("sent", "resolve", "critical", "resolve")]
    assert all(a["action"] == "page" and a["alert_id"] == f"ep-{K1}" and a["dedup_key"] == K1 for a in audit)
    assert [a["event_time"] for a in audit] == ["2026-11-26T12:01:00Z", "2026-11-26T12:02:00Z", "2026-11-26T12:03:00Z"]


def test_escalation_to_a_tier_with_another_service_moves_the_incident(kafka_bootstrap) -> None:
    alerts, actions = topics(kafka_bootstrap)
    env = {"PAGERDUTY_ROUTING_KEY": KEY, "PAGERDUTY_ROUTING_KEY_CRITICAL": OTHER_KEY}
    with LocalEventsApi(services={KEY: "ml-team", OTHER_KEY: "sre"}) as api:
        settings = fast_settings(kafka_bootstrap, api, alerts, actions, routing=RoutingConfig.from_environment(env))
        with running(settings, env):
            for step in [alert_dict("trigger", "warning", 1), alert_dict("escalate", "critical", 2),
                         alert_dict("resolve", "critical", 3)]:
                before = len(accepted(api))
                produce(kafka_bootstrap, alerts, [kafka_record(step)])
                wait_for(lambda: len(accepted(api)) > before, what=step["action"])
            wait_for(lambda: committed(kafka_bootstrap, settings.group_id, alerts) == 3, what="commit")
        assert [(i.service, i.status, i.severities) for i in api.incidents()] == [
            ("ml-team", "resolved", ["warning"]), ("sre", "resolved", ["critical"])]
        assert [(r.service, r.event_action) for r in api.requests()] == [
            ("ml-team", "trigger"), ("sre", "trigger"), ("ml-team", "resolve"), ("sre", "resolve")]


# Several SLO keys in one partition: the order of incidents is the order of the alerts.
SCENARIO = [
    alert_dict("trigger", "warning", 1),
    alert_dict("trigger", "error", 1, slo="fraud-recall"),
    alert_dict("escalate", "critical", 2),
    alert_dict("trigger", "info", 2, segment="country=US"),
    alert_dict("resolve", "error", 3, slo="fraud-recall"),
    alert_dict("resolve", "critical", 4),
    alert_dict("escalate", "warning", 5, segment="country=US"),
    alert_dict("trigger", "critical", 6, slo="fraud-recall", alert_id="second-episode"),
]


def run_scenario(bootstrap: str, api: LocalEventsApi, **overrides) -> str:
    alerts, actions = topics(bootstrap)
    produce(bootstrap, alerts, [kafka_record(r) for r in SCENARIO])
    settings = fast_settings(bootstrap, api, alerts, actions, **overrides)
    with running(settings):
        wait_for(lambda: committed(bootstrap, settings.group_id, alerts) == len(SCENARIO), timeout=60 + OUTAGE_SECONDS,
                 what="every alert settled")
    return actions


@pytest.fixture(scope="module")
def baseline(kafka_bootstrap) -> tuple[list, list]:
    with LocalEventsApi() as api:
        run_scenario(kafka_bootstrap, api)
        return incident_view(api), accepted(api)


# The "500 for two minutes" behaves the same at 3 s with fast backoff; run the real
# length with RESPONDER_OUTAGE_SECONDS=120.
OUTAGE_SECONDS = float(os.environ.get("RESPONDER_OUTAGE_SECONDS", "3"))


@pytest.mark.parametrize("status", [500, 429, DROP], ids=["5xx", "429-storm", "network"])
def test_an_outage_delays_pages_but_changes_nothing_else(kafka_bootstrap, baseline, status) -> None:
    incidents, events = baseline
    assert [i[0] for i in incidents] == [K1, "fraud-recall/fraud-detector", f"{K1}/country=US",
                                         "fraud-recall/fraud-detector"]
    with LocalEventsApi() as api:
        api.fail(status, seconds=OUTAGE_SECONDS)
        actions = run_scenario(kafka_bootstrap, api)
        failed = [r for r in api.requests() if r.status == status]
        assert len(failed) >= 6, "the outage was not exercised"
        assert incident_view(api) == incidents           # same incidents, same order, same tiers
        assert accepted(api) == events                   # nothing lost, nothing sent twice
    audit = read_json(kafka_bootstrap, actions)
    assert [a["outcome"] for a in audit].count("sent") == len(events)
    assert max(a["attempts"] for a in audit if a["outcome"] == "sent") >= 3   # the head waited and retried


def test_a_rejected_page_is_reported_and_does_not_block_later_pages(kafka_bootstrap, caplog) -> None:
    alerts, actions = topics(kafka_bootstrap)
    bad_key = "b" * 31       # a typo'd integration key for one SLO: PagerDuty answers 400
    env = {"PAGERDUTY_ROUTING_KEY": KEY, "BAD_SLO_KEY": bad_key}
    routing = RoutingConfig.from_environment(env, slos={"bad-slo": KeySource(env="BAD_SLO_KEY")})
    caplog.set_level(logging.INFO)
    with LocalEventsApi() as api:
        settings = fast_settings(kafka_bootstrap, api, alerts, actions, routing=routing)
        produce(kafka_bootstrap, alerts, [kafka_record(alert_dict("trigger", "critical", 1, slo="bad-slo")),
                                          (b"bad-slo/fraud-detector/country=US", b'{"alert_id": "truncated'),
                                          kafka_record(alert_dict("trigger", "critical", 2)),
                                          kafka_record(alert_dict("trigger", "error", 3, slo="fraud-recall"))])
        with running(settings, env):
            wait_for(lambda: committed(kafka_bootstrap, settings.group_id, alerts) == 4, what="all settled")
        assert [i.dedup_key for i in api.incidents()] == [K1, "fraud-recall/fraud-detector"]
        assert [r.status for r in api.requests()] == [400, 202, 202]      # the 400 was not retried
    audit = read_json(kafka_bootstrap, actions)
    rejected = [a for a in audit if a["outcome"] == "rejected"]
    # the unparseable record is audited on arrival, the 400 when PagerDuty answers
    assert [a["rule"] for a in rejected] == ["invalid_record", "pagerduty_rejected"]
    assert "not a valid slo-alerts record: not JSON" in rejected[0]["reason"]
    assert b"bad-slo/fraud-detector" in [k for k, _ in read_all(kafka_bootstrap, actions)]
    rejected = rejected[1:]
    assert rejected[0]["slo"] == "bad-slo" and rejected[0]["http_status"] == 400
    assert "Length of 'routing_key' is incorrect" in rejected[0]["reason"]
    assert rejected[0]["target"] == "slo:bad-slo"
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("remediation")]
    assert any("PagerDuty REJECTED trigger of bad-slo/fraud-detector" in m for m in errors)
    assert any("has 31 characters" in r.getMessage() for r in caplog.records)   # warned at start
    assert bad_key not in caplog.text and bad_key.encode() not in b"".join(v for _, v in read_all(kafka_bootstrap, actions))


def test_routing_keys_never_reach_logs_or_topics(kafka_bootstrap, caplog) -> None:
    """Every path that logs: start-up, pages, retries after 500s, a 400, dry-run targets."""
    alerts, actions = topics(kafka_bootstrap)
    env = {"PAGERDUTY_ROUTING_KEY": KEY, "PAGERDUTY_ROUTING_KEY_INFO": OTHER_KEY[:-2]}
    caplog.set_level(logging.DEBUG)          # every logger, the PagerDuty client and httpx2 included
    with LocalEventsApi() as api:
        api.fail(500, count=4)
        settings = fast_settings(kafka_bootstrap, api, alerts, actions, routing=RoutingConfig.from_environment(env))
        produce(kafka_bootstrap, alerts, [kafka_record(alert_dict("trigger", "critical", 1)),
                                          kafka_record(alert_dict("trigger", "info", 1, slo="fraud-recall")),
                                          kafka_record(alert_dict("resolve", "critical", 2))])
        with running(settings, env):
            wait_for(lambda: committed(kafka_bootstrap, settings.group_id, alerts) == 3, what="all settled")
        statuses = [r.status for r in api.requests()]
        assert statuses.count(500) == 4 and statuses.count(400) == 1 and statuses.count(202) == 2
    contents = b"".join((k or b"") + (v or b"") for topic in (alerts, actions)
                        for k, v in read_all(kafka_bootstrap, topic))
    for secret in (KEY, OTHER_KEY[:-2]):
        assert secret not in caplog.text
        assert secret.encode() not in contents
    assert "PagerDuty REJECTED" in caplog.text and "HTTP 500" in caplog.text   # the paths did run


def test_without_a_routing_key_pages_are_logged_and_audited(kafka_bootstrap, caplog) -> None:
    alerts, actions = topics(kafka_bootstrap)
    caplog.set_level(logging.INFO, "remediation")
    with LocalEventsApi() as api:
        settings = fast_settings(kafka_bootstrap, api, alerts, actions, routing=RoutingConfig.from_environment({}))
        produce(kafka_bootstrap, alerts, [kafka_record(alert_dict("trigger", "critical", 1))])
        with running(settings, environ={}):
            wait_for(lambda: committed(kafka_bootstrap, settings.group_id, alerts) == 1, what="settled")
        assert api.requests() == []
    assert "pages are logged, not sent" in caplog.text
    assert "would send" in caplog.text and '"severity":"critical"' in caplog.text
    audit = read_json(kafka_bootstrap, actions)
    assert [(a["outcome"], a["rule"]) for a in audit] == [("logged", "no_routing_key")]


def test_replayed_alerts_are_not_paged_twice_even_across_a_restart(kafka_bootstrap, caplog) -> None:
    alerts, actions = topics(kafka_bootstrap)
    first = [alert_dict("trigger", "warning", 1), alert_dict("escalate", "critical", 2)]
    caplog.set_level(logging.INFO, "remediation")
    with LocalEventsApi() as api:
        settings = fast_settings(kafka_bootstrap, api, alerts, actions)
        with running(settings):
            for record in first:
                produce(kafka_bootstrap, alerts, [kafka_record(record)])
                wait_for(lambda: committed(kafka_bootstrap, settings.group_id, alerts) ==
                         first.index(record) + 1, what="settled")
        # the monitor replays its last epoch (at-least-once), then the SLO recovers
        produce(kafka_bootstrap, alerts, [kafka_record(r) for r in first] +
                [kafka_record(alert_dict("resolve", "critical", 3))])
        with running(replace(settings)):                # same group: a restart
            wait_for(lambda: committed(kafka_bootstrap, settings.group_id, alerts) == 5, what="settled")
        assert accepted(api) == [("trigger", K1, "warning"), ("trigger", K1, "critical"), ("resolve", K1, None)]
        assert incident_view(api) == [(K1, "resolved", "critical", ["warning", "critical"])]
    assert "paging state rebuilt from 2 committed record(s)" in caplog.text
    audit = read_json(kafka_bootstrap, actions)
    assert [(a["outcome"], a["rule"]) for a in audit if a["outcome"] != "sent"] == [
        ("suppressed", "duplicate"), ("suppressed", "duplicate")]


def test_rate_limit_spaces_pages_and_coalesces_redundant_updates(kafka_bootstrap) -> None:
    alerts, actions = topics(kafka_bootstrap)
    with LocalEventsApi() as api:
        # 2 events per 2 seconds: PagerDuty's 120 per 60 s, scaled down to keep the test short
        settings = fast_settings(kafka_bootstrap, api, alerts, actions, rate_limit_per_minute=2,
                                 rate_limit_window=2.0)
        with running(settings):
            produce(kafka_bootstrap, alerts, [kafka_record(alert_dict("trigger", "warning", 1)),
                                              kafka_record(alert_dict("trigger", "warning", 1, slo="fraud-recall"))])
            wait_for(lambda: len(accepted(api)) == 2, what="first two pages")
            produce(kafka_bootstrap, alerts, [
                kafka_record(alert_dict("trigger", "warning", 2, segment="country=US")),
                kafka_record(alert_dict("escalate", "error", 2)),
                kafka_record(alert_dict("escalate", "critical", 3))])
            wait_for(lambda: committed(kafka_bootstrap, settings.group_id, alerts) == 5, timeout=30, what="settled")
        assert accepted(api) == [("trigger", K1, "warning"), ("trigger", "fraud-recall/fraud-detector", "warning"),
                                 ("trigger", f"{K1}/country=US", "warning"), ("trigger", K1, "critical")]
        times = [r.at for r in api.requests()]
        assert all(later - earlier >= 1.9 for earlier, later in zip(times, times[2:])), times
        assert [r.status for r in api.requests()] == [202] * 4     # the limit was never hit
    audit = read_json(kafka_bootstrap, actions)
    coalesced = [a for a in audit if a["outcome"] == "coalesced"]
    assert [(a["severity"], a["alert_action"]) for a in coalesced] == [("error", "escalate")]


def test_consumption_pauses_while_the_queue_is_full_and_resumes_after(kafka_bootstrap) -> None:
    alerts, actions = topics(kafka_bootstrap)
    with LocalEventsApi() as api:
        api.fail(503, seconds=600)
        settings = fast_settings(kafka_bootstrap, api, alerts, actions, max_pending=1)
        with running(settings) as thread:
            produce(kafka_bootstrap, alerts, [kafka_record(alert_dict("trigger", "critical", 1))])
            wait_for(lambda: len(api.requests()) >= 2, what="the head failing")
            produce(kafka_bootstrap, alerts, [kafka_record(alert_dict("trigger", "error", 2, slo="fraud-recall")),
                                              kafka_record(alert_dict("trigger", "info", 2, slo="other-slo"))])
            wait_for(lambda: len(api.requests()) >= 8, what="more failed attempts")
            assert [o.dedup_key for o in thread.service.queued()] == [K1]     # the rest waits in Kafka
            api.state.heal()
            wait_for(lambda: committed(kafka_bootstrap, settings.group_id, alerts) == 3, what="all settled")
        assert [i.dedup_key for i in api.incidents()] == [K1, "fraud-recall/fraud-detector", "other-slo/fraud-detector"]

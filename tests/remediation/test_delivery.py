"""One delivery through PagerDuty's official client, against the local receiver: capped
retries, and the three answers the responder acts on."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from remediation.delivery import HttpRetryPolicy, Outcome, PagerDutySender, normalize_events_url
from remediation.pagerduty_event import trigger_event
from remediation.receiver import DROP, LocalEventsApi
from remediation.routing_keys import KeySource, RoutingConfig, RoutingKeys
from tests.remediation.support import KEY, alert

EVENT = trigger_event(alert())


@pytest.fixture(scope="module")
def api() -> Iterator[LocalEventsApi]:
    with LocalEventsApi() as receiver:
        yield receiver


def sender_for(api: LocalEventsApi, retries: int = 2, env: dict | None = None, **config) -> PagerDutySender:
    env = {"PAGERDUTY_ROUTING_KEY": KEY} if env is None else env
    keys = RoutingKeys(RoutingConfig.from_environment(env, **config), env)
    return PagerDutySender(keys, api.url, api.ca_file, HttpRetryPolicy(retries=retries, first_sleep=0.02))


def test_accepted(api) -> None:
    api.state.reset()
    result = sender_for(api).send("default", EVENT)
    assert (result.outcome, result.status) == (Outcome.ACCEPTED, 202)
    assert [i.dedup_key for i in api.incidents()] == ["fraud-precision/fraud-detector"]


@pytest.mark.parametrize("status", [500, 503, 429, DROP])
def test_transient_failures_are_retried_a_bounded_number_of_times(api, status) -> None:
    api.state.reset()
    api.fail(status, seconds=30)        # longer than any sane caller would wait
    started = time.monotonic()
    result = sender_for(api, retries=2).send("default", EVENT)
    assert result.outcome is Outcome.RETRY and time.monotonic() - started < 5
    assert len(api.requests()) == 3     # 1 try + 2 retries; the client alone would retry 429 forever
    assert result.status == (None if status == DROP else status)


def test_a_400_is_rejected_with_pagerdutys_reason(api) -> None:
    api.state.reset()
    bad_key = "x" * 31
    result = sender_for(api, env={"K": bad_key}, base="K").send("default", EVENT)
    assert (result.outcome, result.status) == (Outcome.REJECTED, 400)
    assert "Length of 'routing_key' is incorrect" in result.detail and bad_key not in result.detail
    assert len(api.requests()) == 1     # never retried


def test_wrong_url_is_retried_with_a_hint(api) -> None:
    keys = RoutingKeys(RoutingConfig.from_environment({"PAGERDUTY_ROUTING_KEY": KEY}), {"PAGERDUTY_ROUTING_KEY": KEY})
    sender = PagerDutySender(keys, api.url + "/wrong", api.ca_file, HttpRetryPolicy(1, 0.01))
    result = sender.send("default", EVENT)
    assert (result.outcome, result.status) == (Outcome.RETRY, 404) and "PAGERDUTY_EVENTS_URL" in result.detail


def test_without_a_key_the_event_is_logged_not_sent(api, caplog) -> None:
    api.state.reset()
    caplog.set_level(logging.INFO, "remediation.delivery")
    result = sender_for(api, env={}).send("default", EVENT)
    assert result.outcome is Outcome.LOGGED and api.requests() == []
    assert "would send" in caplog.text and '"dedup_key":"fraud-precision/fraud-detector"' in caplog.text


def test_per_slo_key_goes_to_its_own_service(api, tmp_path) -> None:
    api.state.reset()
    (tmp_path / "k").write_text("b" * 32)
    sender = sender_for(api, slos={"fraud-precision": KeySource(file=str(tmp_path / "k"))})
    assert sender.send("slo:fraud-precision", EVENT).outcome is Outcome.ACCEPTED
    assert sender.send("default", EVENT).outcome is Outcome.ACCEPTED
    services = {i.service for i in api.incidents()}
    assert services == {api.state.service_of("b" * 32), api.state.service_of(KEY)}


def test_events_url_must_be_https() -> None:
    assert normalize_events_url(None) is None
    with pytest.raises(ValueError, match="https"):
        normalize_events_url("http://127.0.0.1:8080")

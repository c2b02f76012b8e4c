"""The local Events API v2: PagerDuty's contract, answers, incident keeping and failure modes."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx2
import orjson
import pytest

from remediation.receiver import DROP, LocalEventsApi
from tests.kafka_support import REPO
from tests.remediation.support import KEY, OTHER_KEY


@pytest.fixture(scope="module")
def api() -> Iterator[LocalEventsApi]:
    with LocalEventsApi(rate_limit_per_minute=None) as receiver:
        yield receiver


@pytest.fixture()
def client(api: LocalEventsApi) -> Iterator[httpx2.Client]:
    api.state.reset()
    with httpx2.Client(base_url=api.url, verify=ssl.create_default_context(cafile=api.ca_file), timeout=10) as c:
        yield c


def trigger(dedup: str | None = "k1", severity: str = "critical", key: str = KEY, **payload) -> dict:
    event = {"routing_key": key, "event_action": "trigger",
             "payload": {"summary": "precision below objective", "source": "model:m", "severity": severity, **payload}}
    if dedup is not None:
        event["dedup_key"] = dedup
    return event


def post(client: httpx2.Client, event) -> httpx2.Response:
    body = event if isinstance(event, bytes) else orjson.dumps(event)
    return client.post("/v2/enqueue", content=body, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("event, error", [
    ({**trigger(), "routing_key": KEY[:-1]}, "Length of 'routing_key' is incorrect"),
    ({**trigger(), "routing_key": KEY[:-1] + "-"}, "'routing_key' cannot contain non-alphanumeric characters"),
    ({k: v for k, v in trigger().items() if k != "routing_key"}, "'routing_key' is missing"),
    ({**trigger(), "event_action": "page"}, "'event_action' is invalid"),
    (trigger(severity="sev1"), "'payload.severity' is invalid"),
    (trigger(summary="x" * 1025), "longer than 1024"),
    (trigger(summary=""), "'payload.summary' is missing or empty"),
    (trigger(source=""), "'payload.source' is missing"),
    (trigger(dedup="d" * 256), "'dedup_key' is longer than 255"),
    (trigger(timestamp="yesterday"), "'payload.timestamp' is not an ISO 8601"),
    (trigger(custom_details=[1, 2]), "'payload.custom_details' must be an object"),
    ({**trigger(), "links": [{"text": "no href"}]}, "'links[0].href' is required"),
    ({"routing_key": KEY, "event_action": "resolve"}, "'dedup_key' is required for resolve"),
    ({"routing_key": KEY, "event_action": "trigger"}, "'payload' is required"),
    (b"{not json", "JSON parse error"),
    (trigger(custom_details={"blob": "x" * 512_000}), "larger than 512000 bytes"),
])
def test_invalid_events_get_400_like_pagerduty(client, api, event, error) -> None:
    response = post(client, event)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "invalid event" and body["message"] == "Event object is invalid"
    assert any(error in e for e in body["errors"]), body["errors"]
    assert KEY not in response.text and KEY[:-1] not in response.text
    assert api.incidents() == []


def test_incidents_are_kept_by_key_and_dedup_key(client, api) -> None:
    assert post(client, trigger("k1", "warning")).json() == {
        "status": "success", "message": "Event processed", "dedup_key": "k1"}
    assert post(client, trigger("k1", "critical")).status_code == 202          # same alert, updated
    assert post(client, trigger("k1", "critical", key=OTHER_KEY)).status_code == 202  # other service
    assert post(client, {"routing_key": KEY, "event_action": "resolve", "dedup_key": "k1"}).status_code == 202
    assert post(client, trigger("k1", "error")).status_code == 202             # after resolve: new incident
    assert post(client, {"routing_key": KEY, "event_action": "resolve", "dedup_key": "nope"}).status_code == 202
    generated = post(client, trigger(None)).json()["dedup_key"]
    view = [(i.number, i.dedup_key, i.status, i.severities, i.actions) for i in api.incidents()]
    assert view == [
        (1, "k1", "resolved", ["warning", "critical"], ["trigger", "trigger", "resolve"]),
        (2, "k1", "triggered", ["critical"], ["trigger"]),
        (3, "k1", "triggered", ["error"], ["trigger"]),
        (4, generated, "triggered", ["critical"], ["trigger"]),
    ]
    assert api.incidents()[0].service != api.incidents()[1].service


def test_it_fails_on_request_for_a_count_or_a_time(client, api) -> None:
    api.fail(500, count=2)
    assert [post(client, trigger()).status_code for _ in range(3)] == [500, 500, 202]
    api.fail(429, seconds=0.3)
    assert post(client, trigger()).status_code == 429
    time.sleep(0.35)
    assert post(client, trigger()).status_code == 202
    api.fail(503, count=1, dedup_key="k2")
    assert post(client, trigger("k1")).status_code == 202
    assert post(client, trigger("k2")).status_code == 503
    api.fail(DROP, count=1)
    with pytest.raises(httpx2.RemoteProtocolError):
        post(client, trigger())
    assert [r.status for r in api.requests()] == [500, 500, 202, 429, 202, 202, 503, 0]


def test_rate_limit_answers_429_per_key() -> None:
    with LocalEventsApi(rate_limit_per_minute=2) as limited, httpx2.Client(
            base_url=limited.url, verify=ssl.create_default_context(cafile=limited.ca_file)) as c:
        codes = [post(c, trigger(f"k{i}")).status_code for i in range(3)]
        assert codes == [202, 202, 429]
        assert post(c, trigger("k9", key=OTHER_KEY)).status_code == 202
        assert post(c, trigger("k3")).json()["status"] == "throttle event"


def test_held_requests_are_dropped_or_processed_on_release(client, api) -> None:
    import threading

    api.state.hold(then="drop")
    outcome: list[object] = []
    worker = threading.Thread(target=lambda: outcome.append(_try(lambda: post(client, trigger("held")))))
    worker.start()
    time.sleep(0.3)
    assert [r.held for r in api.requests()] == [True] and worker.is_alive()
    api.state.release()
    worker.join(5)
    assert isinstance(outcome[0], httpx2.RemoteProtocolError) and api.incidents() == []
    api.state.hold(seconds=0.2, then="process")
    assert post(client, trigger("late")).status_code == 202
    assert [i.dedup_key for i in api.incidents()] == ["late"]


def _try(call):
    try:
        return call()
    except Exception as error:  # noqa: BLE001 - the test inspects it
        return error


def test_plain_http_clients_are_refused_by_tls(api) -> None:
    with pytest.raises(httpx2.HTTPError):
        httpx2.post(api.url.replace("https", "http") + "/v2/enqueue", content=orjson.dumps(trigger()), timeout=5)


def test_runs_as_a_program_steered_over_http(tmp_path) -> None:
    process = subprocess.Popen([sys.executable, "-m", "remediation.receiver", "--port", "0", "--rate-limit", "0",
                                "--cert-dir", str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        env = dict(process.stdout.readline().strip().split("=", 1) for _ in range(2))
        verify = ssl.create_default_context(cafile=env["PAGERDUTY_CA_BUNDLE"])
        with httpx2.Client(base_url=env["PAGERDUTY_EVENTS_URL"], verify=verify, timeout=10) as c:
            assert c.post("/_receiver/fail", json={"status": 502, "count": 1}).status_code == 200
            assert post(c, trigger()).status_code == 502
            assert post(c, trigger()).status_code == 202
            incidents = c.get("/_receiver/incidents").json()["incidents"]
            assert [(i["dedup_key"], i["status"]) for i in incidents] == [("k1", "triggered")]
            assert c.post("/_receiver/reset").status_code == 200
            assert c.get("/_receiver/incidents").json() == {"incidents": []}
    finally:
        process.terminate()
        assert process.wait(10) == 0

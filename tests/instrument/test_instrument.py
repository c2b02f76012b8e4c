"""PredictionLogger on the real broker, and the example FastAPI service under real HTTP requests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import orjson
import pytest

from flows.topics import ensure_topics
from schemas.events import Prediction
from slo_monitor.instrument import PredictionLogger
from tests.kafka_support import REPO, free_port, read_all, unique_topic

pytestmark = pytest.mark.kafka


def _topic(bootstrap: str) -> str:
    topic = unique_topic("instrument")
    ensure_topics({"bootstrap.servers": bootstrap}, [topic], 2)
    return topic


def test_logged_predictions_land_on_the_topic_valid_and_keyed(kafka_bootstrap):
    topic = _topic(kafka_bootstrap)
    with PredictionLogger(kafka_bootstrap, topic, model_id="fraud-detector", model_version="7") as logger:
        for i in range(500):
            assert logger.log(prediction_id=f"p{i}", predicted_label=i % 2, score=0.5, segment={"country": "US"},
                              features={"amount": float(i), "channel": "web", "missing": None})
        assert logger.log(prediction_id="bad", predicted_label=1, score=1.5) is False   # refused, not raised
        assert logger.log(predicted_label=0.5) is False
    assert logger.counts == {"queued": 500, "delivered": 500, "invalid": 2}
    records = read_all(kafka_bootstrap, topic)
    assert sorted(key.decode() for key, _ in records) == sorted(f"p{i}" for i in range(500))
    for key, value in records:
        prediction = Prediction.model_validate_json(value)
        assert prediction.prediction_id == key.decode() and prediction.model_version == "7"
        assert orjson.loads(value)["timestamp"].endswith("Z")


def test_kafka_down_never_fails_or_blocks_the_caller_and_drops_are_counted():
    # nothing listens on this port: the producer queues, then its bounded queue fills
    logger = PredictionLogger(f"127.0.0.1:{free_port()}", "predictions", model_id="m", max_queue=10,
                              kafka_config={"message.timeout.ms": 2000})
    results = [logger.log(predicted_label=1) for _ in range(50)]
    assert results.count(True) == 10 and results.count(False) == 40
    assert logger.counts["dropped"] == 40
    assert logger.close(timeout=10) == 0          # the 10 queued ones time out: failed, counted
    assert logger.counts["failed"] == 10


def _start_service(port: int, env: dict[str, str]) -> subprocess.Popen:
    command = [sys.executable, "-m", "uvicorn", "examples.model_service.app:app", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=REPO, env={**os.environ, **env}, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return process
        except (urllib.error.URLError, ConnectionError):
            assert process.poll() is None, process.communicate()[1]
            time.sleep(0.3)
    process.kill()
    raise AssertionError("the example service did not start")


def _predict(port: int, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/predict", data=orjson.dumps(body),
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, orjson.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, orjson.loads(error.read())


def test_example_service_logs_every_request_it_answers(kafka_bootstrap):
    topic, port = _topic(kafka_bootstrap), free_port()
    service = _start_service(port, {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "PREDICTIONS_TOPIC": topic,
                                    "MODEL_VERSION": "3", "REVIEW_PROBABILITY": "0.5"})
    try:
        answers = [_predict(port, {"features": {"amount": 50.0 * i, "account_age_days": i % 10},
                                   "segment": {"country": "US" if i % 2 else "DE"}, "request_id": f"req-{i}"})
                   for i in range(40)]
        assert _predict(port, {"features": {"amount": "lots"}})[0] == 422    # FastAPI refuses; nothing logged
    finally:
        service.send_signal(signal.SIGTERM)                                  # lifespan end flushes the logger
        service.wait(60)
    assert all(status == 200 for status, _ in answers)
    assert {body["fraud"] for _, body in answers} == {0, 1}
    logged = {p.prediction_id: p for p in (Prediction.model_validate_json(v) for _, v in read_all(kafka_bootstrap, topic))}
    assert sorted(logged) == sorted(f"req-{i}" for i in range(40))
    for _, body in answers:
        prediction = logged[body["prediction_id"]]
        assert prediction.predicted_label == body["fraud"] and prediction.score == pytest.approx(body["score"])
        assert prediction.model_version == "3" and prediction.review_probability == 0.5


def test_example_service_answers_while_kafka_is_down():
    port = free_port()
    service = _start_service(port, {"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"})
    try:
        answers = [_predict(port, {"features": {"amount": 10.0}}) for _ in range(5)]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            health = orjson.loads(response.read())
    finally:
        service.kill()
        service.wait(30)
    assert [status for status, _ in answers] == [200] * 5
    assert health["predictions"]["queued"] == 5 and health["pending"] == 5

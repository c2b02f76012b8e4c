"""PredictionLogger in a production service's hands: what models return, forks, floods of bad
calls, closing. Found by a review on 2026-11-27; each was a way to lose predictions or flood logs."""

from __future__ import annotations

import logging
import os
import time

import numpy as np
import orjson
import pytest

from schemas.decode import MAX_MESSAGE_BYTES, decode_prediction
from schemas.events import Prediction
from slo_monitor.instrument import PREDICTIONS, RESULTS, PredictionLogger, prediction_record
from tests.kafka_support import free_port, read_all, unique_topic


@pytest.fixture(autouse=True)
def fresh_warnings():
    """Forget the warnings already shown: each kind is shown once per 30 s, process-wide."""
    for name in ("slo_monitor.instrument", "rdkafka"):
        for log_filter in logging.getLogger(name).filters:
            log_filter._seen.clear()


@pytest.fixture
def offline():
    """A logger whose broker is not there: everything it accepts stays queued."""
    logger = PredictionLogger(f"127.0.0.1:{free_port()}", "predictions", model_id="fraud-detector", model_version=7,
                              kafka_config={"message.timeout.ms": 60_000})
    yield logger
    logger.close(0)


def test_numpy_values_from_a_models_predict_are_logged_as_plain_values(offline):
    assert offline.log(prediction_id="n1", predicted_label=np.int64(1), score=np.float32(0.75),
                       features={"amount": np.float64(12.5), "items": np.int32(3)})
    assert offline.log(prediction_id="n2", predicted_label=np.bool_(False))
    assert offline.counts == {"queued": 2}
    assert offline.model_version == "7", "an int registry version is the contract's string"


def test_what_the_monitor_would_dead_letter_is_refused_here(offline):
    big = {f"f{i}": "x" * 1024 for i in range(300)}   # valid field by field, 300 KiB in all
    assert offline.log(prediction_id="big", predicted_label=1, features=big) is False
    assert offline.log(prediction_id="huge", predicted_label=1, prompt="y" * 300_000) is False   # an extra field
    assert offline.log(prediction_id="inf", predicted_label=1, score=10**400) is False   # OverflowError, not raised
    assert offline.counts == {"invalid": 3}
    # the limit is the monitor's own: 200 KiB of features is under it and decodes as sent
    under = Prediction(prediction_id="p", model_id="m", timestamp=1795694400, predicted_label=1,
                       features={f"f{i}": "x" * 1024 for i in range(200)})
    record = prediction_record(under)
    assert len(record) <= MAX_MESSAGE_BYTES and decode_prediction(record) == under


def test_a_flood_of_bad_calls_is_one_warning_with_a_count(offline, caplog):
    with caplog.at_level(logging.WARNING, logger="slo_monitor.instrument"):
        for i in range(200):
            assert offline.log(prediction_id=f"bad{i}", predicted_label=1, score=1.5) is False
    # the background poll thread may also report the missing broker (once): not a bad call
    lines = [r.getMessage() for r in caplog.records
             if r.name == "slo_monitor.instrument" and "Kafka client error" not in r.getMessage()]
    assert len(lines) == 1 and "score" in lines[0], lines[:3]
    assert offline.counts["invalid"] == 200


def test_closing_twice_and_logging_after_close(caplog):
    logger = PredictionLogger(f"127.0.0.1:{free_port()}", "predictions", model_id="m")
    assert logger.log(predicted_label=1)
    before = PREDICTIONS.labels("unsent_at_close")._value.get()
    left = logger.close(0.5)
    assert left >= 1 and logger.counts["unsent_at_close"] == left
    assert PREDICTIONS.labels("unsent_at_close")._value.get() == before + left, "in Prometheus too"
    assert logger.close(0.5) == 0 and logger.counts["unsent_at_close"] == left, "counted once"
    assert logger.log(predicted_label=1) is False and logger.counts["closed"] == 1


def test_every_result_series_exists_before_the_first_of_its_kind():
    from prometheus_client import REGISTRY

    samples = {s.labels["result"] for m in REGISTRY.collect() if m.name == "slo_monitor_instrument_predictions"
               for s in m.samples if s.name.endswith("_total")}
    assert set(RESULTS) <= samples


def test_a_bad_model_id_fails_at_construction_not_at_every_call():
    with pytest.raises(ValueError, match="model_id"):
        PredictionLogger(f"127.0.0.1:{free_port()}", "predictions", model_id="")


def test_librdkafka_lines_go_through_python_logging_not_stderr(capfd, caplog):
    with caplog.at_level(logging.WARNING):
        logger = PredictionLogger(f"127.0.0.1:{free_port()}", "predictions", model_id="m")
        logger.log(predicted_label=1)
        time.sleep(1.5)   # librdkafka retries the connection ~20 times a second
        logger.close(0)
    assert "%3|" not in capfd.readouterr().err, "librdkafka wrote to stderr itself"
    assert any(r.name == "rdkafka" and "Connection refused" in r.getMessage() for r in caplog.records)


@pytest.mark.kafka
def test_a_logger_made_before_a_fork_delivers_from_the_child(kafka_bootstrap):
    """gunicorn --preload: the logger is made in the parent, requests are served in children."""
    from flows.topics import ensure_topics

    topic = unique_topic("instrument-fork")
    ensure_topics({"bootstrap.servers": kafka_bootstrap}, [topic], 1)
    logger = PredictionLogger(kafka_bootstrap, topic, model_id="fraud-detector")
    child = os.fork()
    if child == 0:   # the child: log, close, report how many were left unsent
        code = 1
        try:
            for i in range(5):
                logger.log(prediction_id=f"child-{i}", predicted_label=1)
            code = 0 if logger.close(30) == 0 and logger.counts["delivered"] == 5 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child's predictions were not all delivered"
    assert logger.log(prediction_id="parent", predicted_label=0)
    assert logger.close(30) == 0
    keys = sorted(key.decode() for key, value in read_all(kafka_bootstrap, topic) if orjson.loads(value))
    assert keys == ["child-0", "child-1", "child-2", "child-3", "child-4", "parent"]

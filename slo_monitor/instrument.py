"""Log a model service's predictions to Kafka without ever slowing or failing a request.

`PredictionLogger.log(...)` validates the prediction against the contract (schemas/events.py),
hands it to a confluent-kafka producer (batched: `linger.ms`, lz4, idempotent) and returns at
once. A background thread serves delivery reports. Nothing it does raises into the caller:

- an invalid prediction is refused (counted `invalid`, logged with the reason, `log` returns False);
- a full local queue (Kafka slow or down for long) drops the prediction (counted `dropped`);
- a delivery that finally fails is counted `failed` and logged.

Counts are in `logger.counts` and the Prometheus counter
`slo_monitor_instrument_predictions_total{result}` (queued, delivered, invalid, dropped, failed).

    logger = PredictionLogger("127.0.0.1:9092", model_id="fraud-detector", model_version="5")
    logger.log(prediction_id=request_id, predicted_label=1, score=0.93, features={"amount": 120.0})
    ...
    logger.close()          # at shutdown: waits up to 10 s for queued predictions
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from typing import Any

import orjson
from confluent_kafka import KafkaException, Producer
from prometheus_client import Counter as PromCounter
from pydantic import ValidationError

from schemas.events import Prediction
from schemas.timestamps import format_event_time

log = logging.getLogger(__name__)

PREDICTIONS = PromCounter("slo_monitor_instrument_predictions", "Predictions logged to Kafka, by result", ["result"])
WARN_EVERY = 30.0   # seconds between warnings about failed deliveries


def prediction_record(prediction: Prediction) -> bytes:
    """The JSON value of a prediction on the `predictions` topic (timestamp as RFC 3339).

    >>> prediction_record(Prediction(prediction_id="p1", model_id="m", timestamp=1795694400, predicted_label=1))
    b'{"prediction_id":"p1","model_id":"m","timestamp":"2026-11-26T12:00:00Z","predicted_label":1,"review_probability":1.0}'
    """
    record = prediction.model_dump(exclude_none=True, exclude_defaults=False)
    record["timestamp"] = format_event_time(prediction.timestamp)
    for empty in ("segment", "features"):
        if not record.get(empty):
            record.pop(empty, None)
    return orjson.dumps(record)


class PredictionLogger:
    """A non-blocking, batched producer of predictions; thread-safe; see the module docstring."""

    def __init__(self, bootstrap_servers: str | None = None, topic: str = "predictions", *,
                 model_id: str | None = None, model_version: str | None = None, max_queue: int = 100_000,
                 linger_ms: int = 50, kafka_config: Mapping[str, str] | None = None) -> None:
        bootstrap = bootstrap_servers or os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
        self.topic, self.model_id, self.model_version = topic, model_id, model_version
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._producer = Producer({
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": linger_ms,
            "compression.type": "lz4",
            "queue.buffering.max.messages": max_queue,   # the bound: beyond it predictions are dropped
            "message.timeout.ms": 300_000,               # keep retrying through a 5-minute outage
            **dict(kafka_config or {}),
        })
        self._last_warning = -WARN_EVERY
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="prediction-logger", daemon=True)
        self._poller.start()

    # --- the request path ------------------------------------------------------------------

    def log(self, **fields: Any) -> bool:
        """Queue one prediction (fields of CONTRACT.md's Prediction); True if queued.

        `model_id` and `model_version` default to the logger's, `timestamp` to now, and
        `prediction_id` to a new UUID. Never raises.
        """
        fields.setdefault("model_id", self.model_id)
        if self.model_version is not None:
            fields.setdefault("model_version", self.model_version)
        fields.setdefault("timestamp", time.time())
        fields.setdefault("prediction_id", uuid.uuid4().hex)
        try:
            prediction = Prediction.model_validate(fields)
        except ValidationError as error:
            self._count("invalid")
            log.warning("prediction %r not logged: %s", fields.get("prediction_id"),
                        "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()))
            return False
        return self.log_prediction(prediction)

    def log_prediction(self, prediction: Prediction) -> bool:
        """Queue an already validated prediction; True if queued. Never raises."""
        try:
            self._producer.produce(self.topic, prediction_record(prediction), prediction.prediction_id.encode(),
                                   on_delivery=self._delivered)
        except BufferError:
            self._count("dropped")
            return False
        except (KafkaException, TypeError, ValueError) as error:
            self._count("failed")
            log.warning("prediction %r not logged: %s", prediction.prediction_id, error)
            return False
        self._count("queued")
        return True

    # --- background ------------------------------------------------------------------------

    def _delivered(self, error, _message) -> None:
        if error is None:
            self._count("delivered")
            return
        self._count("failed")
        now = time.monotonic()
        if now - self._last_warning >= WARN_EVERY:   # an outage fails thousands: say so, not each one
            self._last_warning = now
            log.warning("predictions not delivered to %s: %s (%d failed so far)", self.topic, error,
                        self.counts["failed"])

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.2)

    def _count(self, result: str) -> None:
        with self._lock:
            self.counts[result] += 1
        PREDICTIONS.labels(result).inc()

    def pending(self) -> int:
        """Predictions queued and not yet delivered or failed."""
        return len(self._producer)

    def flush(self, timeout: float = 10.0) -> int:
        """Wait up to `timeout` seconds for queued predictions; return how many are still queued."""
        return self._producer.flush(timeout)

    def close(self, timeout: float = 10.0) -> int:
        """Flush, then stop the background thread; return how many predictions were left unsent."""
        left = self.flush(timeout)
        self._stop.set()
        self._poller.join(5)
        if left:
            with self._lock:
                self.counts["unsent_at_close"] += left
            log.warning("%d prediction(s) left unsent at close", left)
        return left

    def __enter__(self) -> PredictionLogger:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

"""Log a model service's predictions to Kafka without ever slowing or failing a request.

`PredictionLogger.log(...)` validates the prediction against the contract (schemas/events.py),
hands it to a confluent-kafka producer (batched: `linger.ms`, lz4, idempotent) and returns at
once. A background thread serves delivery reports. Nothing it does raises into the caller:

- an invalid prediction is refused (counted `invalid`, logged with the reason, `log` returns False),
  and so is one the monitor would dead-letter for its size (over `MAX_MESSAGE_BYTES` encoded);
- a full local queue (Kafka slow or down for long) drops the prediction (counted `dropped`);
- a delivery that finally fails is counted `failed` and logged;
- after `close()`, `log` returns False (counted `closed`).

Each kind of warning is logged at most once every `WARN_EVERY` seconds, with how many were held
back: a broken caller or an outage fails every request, and a line per request would flood the
service's log. librdkafka's own lines go through Python logging the same way (logger `rdkafka`).

Counts are in `logger.counts` and the Prometheus counter
`slo_monitor_instrument_predictions_total{result}` (queued, delivered, invalid, dropped, failed,
closed, unsent_at_close; every series exists from the start).

numpy scalars (what `model.predict(X)[i]` returns) are taken as the Python values they hold.
A logger made before the process forks (gunicorn `--preload`, a module-level logger) starts its
own producer in the child at its first `log`: librdkafka's threads do not survive a fork.
Authenticated Kafka: `kafka_config`, or the monitor's environment (`KAFKA_CONFIG_FILE`,
`KAFKA_SASL_PASSWORD[_FILE]`, `KAFKA_SSL_KEY_PASSWORD[_FILE]`).

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

from flows.kafka_clients import RepeatFilter, client_settings, quiet_logs
from schemas.decode import MAX_MESSAGE_BYTES
from schemas.events import Prediction
from schemas.timestamps import format_event_time

WARN_EVERY = 30.0   # seconds between two warnings of one kind (each says how many were held back)

log = logging.getLogger(__name__)
log.addFilter(RepeatFilter(WARN_EVERY, shape=lambda record: str(record.msg)))   # one kind: one template

PREDICTIONS = PromCounter("slo_monitor_instrument_predictions", "Predictions logged to Kafka, by result", ["result"])
RESULTS = ("queued", "delivered", "invalid", "dropped", "failed", "closed", "unsent_at_close")
for _result in RESULTS:
    PREDICTIONS.labels(_result)   # a series at 0 from the start, so rate() and alerts see the first one


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


def plain_values(fields: dict[str, Any]) -> dict[str, Any]:
    """`fields` with numpy scalars (and those in `features` and `segment`) as the Python values
    they hold, without importing numpy: a model's `predict` returns numpy.int64 and numpy.bool_,
    which validation would refuse.

    >>> import numpy as np
    >>> plain_values({"predicted_label": np.int64(1), "features": {"x": np.float32(0.5)}, "score": 0.9})
    {'predicted_label': 1, 'features': {'x': 0.5}, 'score': 0.9}
    """
    def plain(value: Any) -> Any:
        return value.item() if type(value).__module__ == "numpy" and hasattr(value, "item") else value

    out = {name: plain(value) for name, value in fields.items()}
    for name in ("features", "segment"):
        if isinstance(out.get(name), Mapping):
            out[name] = {key: plain(value) for key, value in out[name].items()}
    return out


class PredictionLogger:
    """A non-blocking, batched producer of predictions; thread-safe; see the module docstring."""

    def __init__(self, bootstrap_servers: str | None = None, topic: str = "predictions", *,
                 model_id: str | None = None, model_version: str | None = None, max_queue: int = 100_000,
                 linger_ms: int = 50, kafka_config: Mapping[str, str] | None = None) -> None:
        bootstrap = bootstrap_servers or os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
        if model_version is not None:
            model_version = str(model_version)   # registry versions are often ints: "7", as the contract says
        if model_id is not None:
            Prediction(prediction_id="-", model_id=model_id, model_version=model_version, timestamp=time.time(),
                       predicted_label=0)   # a bad model_id or version fails here, not at every log()
        self.topic, self.model_id, self.model_version = topic, model_id, model_version
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._config = quiet_logs({
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": linger_ms,
            "compression.type": "lz4",
            "queue.buffering.max.messages": max_queue,   # the bound: beyond it predictions are dropped
            "message.timeout.ms": 300_000,               # keep retrying through a 5-minute outage
            "error_cb": self._client_error,
            **client_settings({}, os.environ.get("KAFKA_CONFIG_FILE") or None, os.environ),
            **dict(kafka_config or {}),
        })
        self._closed = False
        self._start()

    def _start(self) -> None:
        """A producer and the thread that serves its delivery reports and log lines, for this process."""
        self._pid = os.getpid()
        self._producer = Producer(self._config)
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, args=(self._producer, self._stop),
                                        name="prediction-logger", daemon=True)
        self._poller.start()

    def _in_this_process(self) -> None:
        if os.getpid() != self._pid:   # forked: the parent's producer has no threads here
            with self._lock:
                if os.getpid() != self._pid:
                    self._forked_from = self._producer   # kept: destroying it here stalls ~1 s
                    self._start()

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
            prediction = Prediction.model_validate(plain_values(fields))
        except Exception as error:   # noqa: BLE001 - ValidationError, or OverflowError from float(10**400)
            self._count("invalid")
            log.warning("prediction %r not logged: %s", fields.get("prediction_id"), _reason(error))
            return False
        return self.log_prediction(prediction)

    def log_prediction(self, prediction: Prediction) -> bool:
        """Queue an already validated prediction; True if queued. Never raises."""
        if self._closed:
            self._count("closed")
            log.warning("prediction %r not logged: the logger is closed", prediction.prediction_id)
            return False
        try:
            record = prediction_record(prediction)
        except (TypeError, ValueError) as error:   # an extra field orjson cannot encode
            self._count("invalid")
            log.warning("prediction %r not logged: cannot encode it as JSON: %s", prediction.prediction_id, error)
            return False
        if len(record) > MAX_MESSAGE_BYTES:
            self._count("invalid")
            log.warning("prediction %r not logged: %d bytes encoded, over the monitor's %d byte limit (it would be "
                        "dead-lettered)", prediction.prediction_id, len(record), MAX_MESSAGE_BYTES)
            return False
        self._in_this_process()
        try:
            self._producer.produce(self.topic, record, prediction.prediction_id.encode(), on_delivery=self._delivered)
        except BufferError:
            self._count("dropped")
            log.warning("predictions dropped: the local queue is full (Kafka slow or unreachable); %d so far",
                        self.counts["dropped"])
            return False
        except KafkaException as error:
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
        log.warning("predictions not delivered to %s: %s (%d failed so far)", self.topic, error, self.counts["failed"])

    def _client_error(self, error) -> None:
        """librdkafka's client-level errors (all brokers down, authentication failed): in the log, not
        only in counts that move minutes later when deliveries time out."""
        log.warning("Kafka client error for %s: %s", self.topic, error)

    @staticmethod
    def _poll(producer: Producer, stop: threading.Event) -> None:
        while not stop.is_set():
            producer.poll(0.2)

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
        """Flush, then stop the background thread; return how many predictions (and producer
        requests) were left unsent. Later calls do nothing and return 0."""
        with self._lock:
            if self._closed:
                return 0
            self._closed = True
        left = self.flush(timeout)
        self._stop.set()
        self._poller.join(5)
        if left:
            with self._lock:
                self.counts["unsent_at_close"] += left
            PREDICTIONS.labels("unsent_at_close").inc(left)
            log.warning("%d prediction(s) left unsent at close", left)
        return left

    def __enter__(self) -> PredictionLogger:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


def _reason(error: Exception) -> str:
    """A validation error's problems on one line; any other error's message."""
    errors = getattr(error, "errors", None)
    if callable(errors):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors())
    return f"{type(error).__name__}: {error}"

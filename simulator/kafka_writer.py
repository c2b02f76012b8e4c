"""Write the two streams to Kafka: `predictions` and `labels` topics, keyed by prediction_id.

Uses an idempotent confluent-kafka producer (no duplicates from internal retries), lingers a
little and compresses so fast-forward can push days of traffic in seconds. Message values are the
contract's JSON records (orjson); the Kafka message timestamp is left to the producer (wall
clock): the monitor reads event time from the JSON, and back-dated message timestamps would let
the broker's time-based retention delete replayed data early.
"""

from __future__ import annotations

import os
import socket
from typing import Any, Mapping

import orjson
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


def default_bootstrap_servers() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or DEFAULT_BOOTSTRAP


class KafkaUnavailable(RuntimeError):
    """The broker could not be reached (raised before anything is produced)."""


class KafkaWriteError(RuntimeError):
    """Some messages were not delivered."""


def _check_reachable(bootstrap_servers: str, timeout: float) -> None:
    """Fail fast with a clear message when no bootstrap server accepts a connection at all."""
    errors = []
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=min(timeout, 3.0)):
                return
        except (OSError, ValueError) as exc:
            errors.append(f"{server.strip()}: {exc}")
    raise KafkaUnavailable(f"cannot reach Kafka at {bootstrap_servers} ({'; '.join(errors)})")


class KafkaWriter:
    """A sink (see simulator.runner.Sink) producing to the predictions and labels topics."""

    def __init__(self, bootstrap_servers: str | None = None, predictions_topic: str = "predictions",
                 labels_topic: str = "labels", *, create_topics: bool = True, partitions: int = 3,
                 replication_factor: int = 1, config: Mapping[str, Any] | None = None,
                 connect_timeout: float = 10.0) -> None:
        self.bootstrap_servers = bootstrap_servers or default_bootstrap_servers()
        self.topics = {"prediction": predictions_topic, "label": labels_topic}
        base = {"bootstrap.servers": self.bootstrap_servers}
        _check_reachable(self.bootstrap_servers, connect_timeout)
        # The admin client needs the same security settings (SASL, TLS) as the producer.
        admin = AdminClient({**base, **{k: v for k, v in (config or {}).items()
                                        if k.startswith(("security.", "sasl.", "ssl."))}})
        try:
            existing = set(admin.list_topics(timeout=connect_timeout).topics)
        except KafkaException as exc:
            raise KafkaUnavailable(f"cannot reach Kafka at {self.bootstrap_servers}: {exc}") from exc
        if create_topics:
            self._create_missing(admin, existing, partitions, replication_factor, connect_timeout)
        self._producer = Producer({
            **base,
            "client.id": "slo-monitor-simulator",
            "enable.idempotence": True,          # acks=all, no duplicates from retries
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 500_000,
            "queue.buffering.max.kbytes": 1_048_576,
            "message.timeout.ms": 120_000,
            **(config or {}),
        })
        self.counts = {"prediction": 0, "label": 0}
        self.delivered = 0
        self.failed = 0
        self.first_error: str | None = None
        self._since_poll = 0

    def _create_missing(self, admin: AdminClient, existing: set[str], partitions: int,
                        replication_factor: int, timeout: float) -> None:
        """Create missing topics, the two with the same partition count so keys co-partition."""
        missing = [t for t in dict.fromkeys(self.topics.values()) if t not in existing]
        if not missing:
            return
        futures = admin.create_topics([NewTopic(t, partitions, replication_factor) for t in missing],
                                      operation_timeout=timeout)
        for topic, future in futures.items():
            try:
                future.result(timeout)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise

    def _on_delivery(self, err: KafkaError | None, msg: Any) -> None:
        if err is None:
            self.delivered += 1
        else:
            self.failed += 1
            if self.first_error is None:
                self.first_error = f"{msg.topic()}: {err}"

    def send(self, kind: str, event_time: float, record: dict) -> None:
        topic = self.topics[kind]
        value = orjson.dumps(record)
        key = record["prediction_id"].encode()
        while True:
            try:
                self._producer.produce(topic, value, key, on_delivery=self._on_delivery)
                break
            except BufferError:  # local queue full: let the network catch up
                self._producer.poll(0.05)
        self.counts[kind] += 1
        self._since_poll += 1
        if self._since_poll >= 1000:
            self._producer.poll(0)
            self._since_poll = 0

    def tick(self) -> None:
        self._producer.poll(0)

    def close(self, timeout: float = 60.0) -> None:
        """Wait for delivery of everything sent; raise KafkaWriteError if anything failed."""
        remaining = self._producer.flush(timeout)
        if remaining or self.failed:
            raise KafkaWriteError(
                f"{self.failed} messages failed and {remaining} were still queued after {timeout:g}s"
                + (f"; first error: {self.first_error}" if self.first_error else ""))

    def describe(self) -> str:
        return (f"Kafka {self.bootstrap_servers} topics {self.topics['prediction']!r} and "
                f"{self.topics['label']!r}")

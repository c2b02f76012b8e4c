"""A Kafka sink that waits instead of crashing when the producer's queue is full.

Bytewax's own `KafkaSink` raises `BufferError` on a full local queue (bytewax issue 522). This
one polls until librdkafka has room, waits for delivery through broker outages, and fails the
step loudly if a delivery fails, so an output record is never dropped silently.
"""

from __future__ import annotations

from typing import NamedTuple

from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import KafkaException, Producer


class OutRecord(NamedTuple):
    """One record to produce (a NamedTuple: the flow builds one per output record)."""

    topic: str
    key: bytes | None
    value: bytes


class _ProducerPartition(StatelessSinkPartition[list[OutRecord]]):
    def __init__(self, config: dict[str, object]) -> None:
        # One producer-wide callback, called for failures only: a callback passed with every
        # record cost ~0.5 us of each produce call, and a Python call per delivered record ~1 us.
        self._producer = Producer({**config, "delivery.report.only.error": True, "on_delivery": self._on_delivery})
        self._failure: str | None = None

    def _on_delivery(self, error, message) -> None:
        if error is not None and self._failure is None:
            self._failure = f"delivery to {message.topic()} failed: {error}"

    def write_batch(self, items: list[list[OutRecord]]) -> None:
        produce, poll = self._producer.produce, self._producer.poll
        for records in items:
            for record in records:
                try:
                    produce(record.topic, record.value, record.key)
                except BufferError:   # the local queue is full: wait for room
                    self._produce_when_room(record)
            poll(0)
        # Wait as long as librdkafka keeps retrying (message.timeout.ms, 5 minutes by default):
        # a broker that is away for a minute delays output; only a failed delivery stops the
        # flow (and a restart with --recovery-dir resumes it).
        while self._producer.flush(1.0) and self._failure is None:
            pass
        if self._failure is not None:
            raise KafkaException(self._failure)

    def _produce_when_room(self, record: OutRecord) -> None:
        while True:
            self._producer.poll(0.05)
            try:
                self._producer.produce(record.topic, record.value, record.key)
                return
            except BufferError:
                continue

    def close(self) -> None:
        self._producer.flush(30)


class ProducerSink(DynamicSink[list[OutRecord]]):
    """Writes lists of `OutRecord`s (the flow's items are batches), each to its own topic."""

    def __init__(self, config: dict[str, str]) -> None:
        self._config = config

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _ProducerPartition:
        return _ProducerPartition(self._config)

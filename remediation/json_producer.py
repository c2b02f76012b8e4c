"""The producer of the responder's and the executor's own records (audit, model-control, review
sampling): JSON values, an idempotent producer, and a `flush` their offset commits wait for
(`commit_when_written`).

Both services commit an alert only after `flush` returned 0, so a committed alert always has its
records in Kafka. That holds through a broker outage of any length: librdkafka retries each record
until it is delivered (`message.timeout.ms` 0, set by remediation/kafka_config.producer_config),
and the commits wait. A delivery that fails for good (the topic may not be written, the record is
too large) is raised from `flush`, then and ever after: the service stops rather than commit past
a lost record, and its restart decides those alerts again (pages keep their dedup keys, actions
their guardrails).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

import orjson
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from remediation.outbox import OffsetTracker

log = logging.getLogger(__name__)


class JsonProducer:
    def __init__(self, config: dict[str, str], what: str):
        self._producer = Producer(config)
        self._what = what               # "audit records": names them in logs and errors
        self._failed = 0                # deliveries that failed for good
        self._first_failure = ""

    def send(self, topic: str, key: str, value: dict[str, Any] | None) -> None:
        """Queue one record (`value` None: a tombstone), waiting while the local queue is full."""
        payload = None if value is None else orjson.dumps(value)
        while True:
            try:
                self._producer.produce(topic, payload, key.encode(), on_delivery=self._delivered)
                break
            except BufferError:
                self._producer.poll(0.1)
        self._producer.poll(0)

    def flush(self, timeout: float = 30.0) -> int:
        """Records still on their way after `timeout` (0 when all are in Kafka); raises
        `KafkaException` once any delivery has failed for good (no commit may follow)."""
        left = self._producer.flush(timeout)
        if self._failed:
            raise KafkaException(f"{self._failed} {self._what} could not be written: {self._first_failure}")
        return left

    def close(self) -> None:
        left = self._producer.flush(10.0)
        if left or self._failed:
            log.error("%d %s could not be written", left + self._failed, self._what)

    def _delivered(self, error: KafkaException | None, message: Any) -> None:
        if error is not None:
            topic = message.topic() if message is not None else "?"
            if not self._failed:
                self._first_failure = f"{topic}: {error}"
            self._failed += 1
            log.error("%s not written to %s: %s", self._what, topic, error)


class Flushable(Protocol):
    def flush(self, timeout: float) -> int: ...


def commit_when_written(consumer: Consumer, topic: str, offsets: OffsetTracker, writers: Sequence[Flushable]) -> None:
    """Commit the alerts `offsets` has settled, once every record `writers` wrote is in Kafka
    (otherwise later: a committed alert always has its audit and control records)."""
    positions = offsets.committable()
    if not positions:
        return
    if any(writer.flush(10.0) for writer in writers):
        log.warning("records of settled alerts not yet in Kafka: offset commit postponed")
        return
    try:
        consumer.commit(offsets=[TopicPartition(topic, p, o) for p, o in positions.items()], asynchronous=False)
    except KafkaException as error:
        log.warning("offset commit failed, will retry: %s", error.args[0])
        return
    offsets.committed(positions)

"""Kafka input for the monitor: one item per fetched batch, ending cleanly on request.

Bytewax's `KafkaSource` emits one `KafkaSourceMessage` per record, and every later step then
costs a Python call and a Rust crossing per record. Here each partition's fetch becomes one
`MessageBatch` (raw key, value and offset of each record), so the steps downstream run once
per batch; a burst of junk costs its decoding, not ten operator steps per record.

`request_stop()` (from the SIGTERM/SIGINT handler) makes every partition end its input at its
next batch; the dataflow drains, flushes its outputs and returns (Bytewax would otherwise turn
the signal into a Rust panic with a backtrace).

After a broker restart the partition consumers resume by themselves (they were seen to stop
fetching for good when librdkafka's log flood filled a stderr pipe: flows/kafka_clients.py now
routes those lines through Python logging; tests/reliability/test_broker_restart.py).
"""

from __future__ import annotations

import threading
from typing import NamedTuple

from bytewax.connectors.kafka import KafkaSource
from bytewax.connectors.kafka import _KafkaSourcePartition as _BytewaxPartition  # pinned bytewax 0.21
from confluent_kafka import KafkaError
from confluent_kafka.admin import AdminClient

from flows.kafka_clients import PREFETCH

_STOP = threading.Event()

# Consumer-only settings the partition-listing admin client (a producer-type handle) must not
# get: librdkafka would warn that it ignores each of them. The logger is left out too: the admin
# client is not polled, and its first-contact errors (wrong password, bad certificate) must reach
# stderr (flows/kafka_clients.py).
_CONSUMER_ONLY = {"auto.offset.reset", "enable.auto.commit", "group.id", "enable.partition.eof", "logger", *PREFETCH}


RawRecord = tuple[bytes | None, bytes | None, int]   # (key, value, offset) of a fetched record


class MessageBatch(NamedTuple):
    """Records fetched together from one partition, in offset order."""

    topic: str
    partition: int
    records: list[RawRecord]
    errors: list[str]                                       # consumer errors met while fetching


def request_stop() -> None:
    _STOP.set()


def stop_requested() -> bool:
    return _STOP.is_set()


def reset_stop() -> None:
    """For tests that run several flows in one process."""
    _STOP.clear()


class _BatchPartition(_BytewaxPartition):
    """Bytewax's partition (consumer set-up, lag metric, offset snapshot) with batch items.

    The offset advances past records only: a consumer error carries no record position (Bytewax's
    own partition moved its offset to the error's, which is invalid).
    """

    def next_batch(self) -> list[MessageBatch]:
        if self._eof or _STOP.is_set():
            raise StopIteration()
        records: list[RawRecord] = []
        errors: list[str] = []
        for message in self._consumer.consume(self._batch_size, 0.001):
            error = message.error()
            if error is None:
                records.append((message.key(), message.value(), message.offset()))
            elif error.code() == KafkaError._PARTITION_EOF:
                self._eof = True   # StopIteration at the next call, after this batch
                break
            else:
                errors.append(error.str())
        if records:
            self._offset = records[-1][2] + 1
        elif not errors:
            return []
        return [MessageBatch(self._topic, self._part_idx, records, errors)]


class MonitorKafkaSource(KafkaSource):
    """`KafkaSource` with `MessageBatch` items, stop on request, secured partition listing."""

    def list_parts(self) -> list[str]:
        config = {key: value for key, value in self._add_config.items() if key not in _CONSUMER_ONLY}
        admin = AdminClient({"bootstrap.servers": ",".join(self._brokers), **config})
        parts = []
        for topic in self._topics:
            metadata = admin.list_topics(topic, timeout=30).topics[topic]
            if metadata.error is not None:
                raise RuntimeError(f"cannot list partitions of Kafka topic {topic!r}: {metadata.error.str()}")
            parts.extend(f"{index}-{topic}" for index in metadata.partitions)
        return parts

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _BatchPartition:
        index, topic = for_part.split("-", 1)
        config = {
            "group.id": "BYTEWAX_IGNORED",   # offsets live in the recovery store, not a group
            "enable.auto.commit": "false",
            "bootstrap.servers": ",".join(self._brokers),
            "enable.partition.eof": str(not self._tail),
            "statistics.interval.ms": 1000,  # feeds Bytewax's consumer-lag gauge
            **self._add_config,
        }
        return _BatchPartition(step_id, config, topic, int(index), self._starting_offset, resume_state,
                               self._batch_size, False)

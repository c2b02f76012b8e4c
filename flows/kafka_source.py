"""Kafka input for the monitor: Bytewax's `KafkaSource`, ending cleanly on request.

Bytewax turns a signal into a Rust panic ("signal received") that prints a backtrace. Instead
`request_stop()` (from the SIGTERM/SIGINT handler) makes every partition end its input at its
next batch; the dataflow drains, flushes its outputs and returns.

After a broker restart the partition consumers resume by themselves (they were seen to stop
fetching for good when librdkafka's log flood filled a stderr pipe: flows/kafka_clients.py now
routes those lines through Python logging; tests/reliability/test_broker_restart.py).
"""

from __future__ import annotations

import threading

from bytewax.connectors.kafka import KafkaSource
from bytewax.inputs import StatefulSourcePartition
from confluent_kafka.admin import AdminClient

_STOP = threading.Event()

# Consumer-only settings that Bytewax would also hand to its partition-listing admin client,
# where librdkafka warns about each of them.
# The logger is left out too: the admin client is not polled, and its first-contact errors
# (wrong password, bad certificate) must reach stderr (flows/kafka_clients.py).
_CONSUMER_ONLY = {"auto.offset.reset", "enable.auto.commit", "group.id", "enable.partition.eof", "logger"}


def request_stop() -> None:
    _STOP.set()


def stop_requested() -> bool:
    return _STOP.is_set()


def reset_stop() -> None:
    """For tests that run several flows in one process."""
    _STOP.clear()


class _StoppablePartition(StatefulSourcePartition):
    def __init__(self, inner: StatefulSourcePartition) -> None:
        self._inner = inner

    def next_batch(self):
        if _STOP.is_set():
            raise StopIteration()
        return self._inner.next_batch()

    def next_awake(self):
        return self._inner.next_awake()

    def snapshot(self):
        return self._inner.snapshot()

    def close(self) -> None:
        self._inner.close()


class MonitorKafkaSource(KafkaSource):
    """`KafkaSource` that stops on request and lists partitions with the clients' security settings."""

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

    def build_part(self, step_id, for_part, resume_state):
        return _StoppablePartition(super().build_part(step_id, for_part, resume_state))

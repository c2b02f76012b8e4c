"""What the alerts topic already holds, so a restarted monitor does not write an alert twice.

Bytewax output is at-least-once: after a crash, the epoch since the last snapshot is replayed
and its alerts produced again. Reading the (small) alerts topic at start-up and dropping the
lifecycle events it already holds makes each alert appear once.
"""

from __future__ import annotations

import time
import uuid

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

AlertIdentity = tuple[str, str, str]  # (alert_id, action, severity)

# A partition without a leader yet: the topic was just created, or the broker just restarted.
_NO_LEADER_YET = frozenset({KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                            KafkaError.UNKNOWN_TOPIC_OR_PART})


def alert_identity(record: dict) -> AlertIdentity:
    return (record["alert_id"], record["action"], record["severity"])


def written_alerts(consumer_config: dict[str, str], topic: str, timeout: float = 60.0) -> frozenset[AlertIdentity]:
    """Identities of every alert record in `topic` now (read from the start to the end)."""
    consumer = Consumer({**consumer_config, "group.id": f"slo-monitor-alert-log-{uuid.uuid4().hex}"})
    try:
        metadata = consumer.list_topics(topic, timeout=15).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return frozenset()
        deadline = time.monotonic() + timeout
        ends = {}
        for partition in metadata.partitions:
            low, high = _watermarks(consumer, TopicPartition(topic, partition), deadline)
            if high > low:
                ends[partition] = (low, high)
        consumer.assign([TopicPartition(topic, p, low) for p, (low, _) in ends.items()])
        seen: set[AlertIdentity] = set()
        remaining = {p for p in ends}
        while remaining and time.monotonic() < deadline:
            for message in consumer.consume(500, 0.5):
                if message.error() is not None:
                    continue
                try:
                    seen.add(alert_identity(orjson.loads(message.value())))
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    pass  # not ours: ignore
                if message.offset() + 1 >= ends[message.partition()][1]:
                    remaining.discard(message.partition())
        if remaining:
            raise TimeoutError(f"could not read {topic!r} to its end within {timeout:.0f} s")
        return frozenset(seen)
    finally:
        consumer.close()


def _watermarks(consumer: Consumer, partition: TopicPartition, deadline: float) -> tuple[int, int]:
    """Low and high offsets, waiting until `deadline` while the partition has no leader: a monitor
    started with --recovery-dir right after it created the topic, or right after a broker
    restart, failed here with NOT_LEADER_FOR_PARTITION (tests/reliability/test_broker_restart.py)."""
    while True:
        try:
            return consumer.get_watermark_offsets(partition, timeout=15)
        except KafkaException as error:
            if error.args[0].code() not in _NO_LEADER_YET or time.monotonic() > deadline:
                raise
            time.sleep(0.5)

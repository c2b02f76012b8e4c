"""What the alerts topic already holds, so a restarted monitor does not write an alert twice.

Bytewax output is at-least-once: after a crash, the epoch since the last snapshot is replayed
and its alerts produced again. Reading the (small) alerts topic at start-up and dropping the
lifecycle events it already holds makes each alert appear once.
"""

from __future__ import annotations

import time
import uuid

import orjson
from confluent_kafka import Consumer, TopicPartition

from flows.kafka_clients import settled_watermarks

AlertIdentity = tuple[str, str, str]  # (alert_id, action, severity)

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
            low, high = settled_watermarks(consumer, TopicPartition(topic, partition), deadline)
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

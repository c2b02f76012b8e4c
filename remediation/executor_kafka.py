"""Kafka plumbing of the executor beyond the responder's (remediation/kafka_config.py): the
compacted review-sampling topic, and reading a topic's history (to rebuild the guardrail ledger
and the raises in force at start).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Mapping

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from flows.kafka_clients import settled_watermarks
from remediation.kafka_config import admin_config, history_config

log = logging.getLogger(__name__)


def ensure_compacted_topic(bootstrap: str, name: str, partitions: int = 1,
                           extra: Mapping[str, str] | None = None) -> bool:
    """Create `name` with ``cleanup.policy=compact`` if missing; True if created. An existing
    topic is left alone (with a warning if it is not compacted: old raises would then age out
    by retention instead of being kept until replaced)."""
    admin = AdminClient(admin_config(bootstrap, extra))
    if name in admin.list_topics(timeout=15).topics:
        _warn_if_not_compacted(admin, name)
        return False
    future = admin.create_topics([NewTopic(name, num_partitions=partitions,
                                           config={"cleanup.policy": "compact"})])[name]
    try:
        future.result(30)
    except KafkaException as error:
        if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise
        return False
    log.info("created compacted topic %s", name)
    return True


def _warn_if_not_compacted(admin: AdminClient, name: str) -> None:
    from confluent_kafka.admin import ConfigResource

    try:
        resource = ConfigResource(ConfigResource.Type.TOPIC, name)
        configs = admin.describe_configs([resource])[resource].result(15)
        policy = configs.get("cleanup.policy")
        if policy is not None and "compact" not in str(policy.value):
            log.warning("topic %s has cleanup.policy=%s; review-sampling should be compacted", name, policy.value)
    except Exception as error:  # noqa: BLE001 - only a diagnostic
        log.debug("could not check the config of %s: %s", name, error)


def read_history(bootstrap: str, topic: str, extra: Mapping[str, str] | None = None,
                 since: float | None = None, timeout: float = 120.0) -> Iterator[tuple[bytes | None, bytes | None]]:
    """(key, value) of every record of `topic` written since wall time `since` (epoch seconds;
    None: from the beginning) up to its end when called, partition by partition in order."""
    config = history_config(bootstrap, extra)
    config["group.id"] = f"slo-monitor-executor-history-{uuid.uuid4().hex[:8]}"   # never commits
    reader = Consumer(config)
    try:
        metadata = reader.list_topics(topic, timeout=15).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return
        partitions = sorted(metadata.partitions)
        ends: dict[int, int] = {}
        starts: dict[int, int] = {}
        for partition in partitions:
            low, high = settled_watermarks(reader, TopicPartition(topic, partition), time.monotonic() + 30.0)
            if high > low:
                ends[partition], starts[partition] = high, low
        if since is not None and ends:
            wanted = [TopicPartition(topic, p, int(since * 1000)) for p in ends]
            for tp in reader.offsets_for_times(wanted, timeout=15):
                if tp.offset < 0:          # nothing written since: skip the partition
                    ends.pop(tp.partition, None)
                else:
                    starts[tp.partition] = tp.offset
        if not ends:
            return
        reader.assign([TopicPartition(topic, p, starts[p]) for p in ends])
        deadline = time.monotonic() + timeout
        todo = dict(ends)
        while todo:
            if time.monotonic() > deadline:
                log.warning("history of %s read only partly (timed out; partitions %s unfinished)", topic, sorted(todo))
                return
            for message in reader.consume(500, 0.5):
                if message.error():
                    continue
                partition = message.partition()
                if partition in todo and message.offset() < todo[partition]:
                    yield message.key(), message.value()
            for tp in reader.position([TopicPartition(topic, p) for p in todo]):
                if tp.offset >= todo[tp.partition]:
                    del todo[tp.partition]
    finally:
        reader.close()

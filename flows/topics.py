"""Create the topics the monitor reads and writes, if they are missing."""

from __future__ import annotations

import logging

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from flows.kafka_clients import quiet_logs

log = logging.getLogger(__name__)


def _admin(admin_config: dict[str, str]) -> AdminClient:
    """An admin client whose librdkafka log lines wait in its queue for `poll` (see `_hand_over_logs`)
    instead of going straight to stderr: an unreachable broker is otherwise ~20 lines a second
    (300 before a 15-second metadata request gives up)."""
    return AdminClient(quiet_logs(admin_config))


def _hand_over_logs(admin: AdminClient) -> None:
    """Pass the queued log lines to Python logging, where repeats are collapsed; the reason a first
    contact failed (say "SASL authentication error: Authentication failed") stays among them."""
    admin.poll(0)


def ensure_topics(admin_config: dict[str, str], names: list[str], partitions: int) -> list[str]:
    """Create each missing topic with `partitions` partitions; return the names created.

    Replication is left to the broker's default. A topic that already exists keeps its own
    partition count: changing it would move keys between partitions.
    """
    admin = _admin(admin_config)
    try:
        existing = set(admin.list_topics(timeout=15).topics)
    finally:
        _hand_over_logs(admin)
    missing = [name for name in dict.fromkeys(names) if name not in existing]
    if not missing:
        return []
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions) for name in missing])
    created = []
    for name, future in futures.items():
        try:
            future.result(30)
            created.append(name)
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    if created:   # (another client may have created them first)
        log.info("created topics %s", ", ".join(created))
    return created


def partition_counts(admin_config: dict[str, str], names: list[str]) -> dict[str, int]:
    admin = _admin(admin_config)
    try:
        metadata = admin.list_topics(timeout=15)
    finally:
        _hand_over_logs(admin)
    return {name: len(metadata.topics[name].partitions) for name in names if name in metadata.topics}

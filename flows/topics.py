"""Create the topics the monitor reads and writes, if they are missing."""

from __future__ import annotations

import logging

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

log = logging.getLogger(__name__)


def ensure_topics(admin_config: dict[str, str], names: list[str], partitions: int) -> list[str]:
    """Create each missing topic with `partitions` partitions; return the names created.

    Replication is left to the broker's default. A topic that already exists keeps its own
    partition count: changing it would move keys between partitions.
    """
    admin = AdminClient(admin_config)
    existing = set(admin.list_topics(timeout=15).topics)
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
    metadata = AdminClient(admin_config).list_topics(timeout=15)
    return {name: len(metadata.topics[name].partitions) for name in names if name in metadata.topics}

"""Configuration of every Kafka client the monitor makes, in one place.

Consumers start from the earliest offset when they have none (librdkafka's default is
`latest`, which would silently skip everything written before the first start); producers are
idempotent (librdkafka's default is not) so a retried send is not written twice.
"""

from __future__ import annotations

from flows.settings import FlowSettings


def common_config(settings: FlowSettings) -> dict[str, str]:
    return {"bootstrap.servers": settings.bootstrap_servers, **settings.kafka_config}


def consumer_config(settings: FlowSettings) -> dict[str, str]:
    return {
        **common_config(settings),
        "auto.offset.reset": "earliest",
        "enable.auto.commit": "false",
    }


def producer_config(settings: FlowSettings) -> dict[str, str]:
    return {
        **common_config(settings),
        "enable.idempotence": "true",
        "acks": "all",
        "linger.ms": "20",
        "compression.type": "lz4",
    }

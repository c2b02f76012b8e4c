"""Session fixtures: the real Kafka broker.

Tests use a broker that already answers at KAFKA_BOOTSTRAP_SERVERS (default 127.0.0.1:9092),
or start one with deploy/kafka/kafka-up.sh for the session and stop it afterwards.
"""

from __future__ import annotations

import os

import pytest

from tests.kafka_support import broker_answers, start_broker, stop_broker


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    if broker_answers(bootstrap):
        yield bootstrap
        return
    port = int(bootstrap.rpartition(":")[2])
    start_broker(port)
    try:
        yield bootstrap
    finally:
        stop_broker(port)

"""The producer of audit and control records, against the real broker: a commit may follow `flush`
only when every record is in Kafka, so a delivery that fails for good must stop every later one."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from remediation.json_producer import JsonProducer
from remediation.kafka_config import producer_config
from tests.kafka_support import read_all, unique_topic
from tests.remediation.support import create_topic


def test_records_flushed_are_in_kafka(kafka_bootstrap: str) -> None:
    topic = create_topic(kafka_bootstrap, "json-producer")
    producer = JsonProducer(producer_config(kafka_bootstrap), "test records")
    producer.send(topic, "a/m", {"outcome": "sent", "n": 1})
    producer.send(topic, "a/m", None)   # a tombstone
    assert producer.flush(30) == 0
    producer.close()
    assert read_all(kafka_bootstrap, topic) == [(b"a/m", b'{"outcome":"sent","n":1}'), (b"a/m", None)]


def test_a_lost_record_fails_every_later_flush(kafka_bootstrap: str) -> None:
    topic = unique_topic("json-producer-small")
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(topic, 1, config={"max.message.bytes": "2000"})])[topic].result(30)
    producer = JsonProducer(producer_config(kafka_bootstrap), "test records")
    producer.send(topic, "k", {"small": True})
    assert producer.flush(30) == 0

    producer.send(topic, "k", {"pad": "x" * 10_000})   # the broker refuses it for good
    with pytest.raises(KafkaException, match=f"1 test records could not be written: {topic}: .*"):
        producer.flush(30)
    producer.send(topic, "k", {"small": True})          # delivered, but a record before it is lost
    with pytest.raises(KafkaException, match="1 test records could not be written"):
        producer.flush(30)
    producer.close()


def test_records_wait_for_the_broker_however_long() -> None:
    """librdkafka's default gives a record up after 5 minutes; a lost rollback command must not."""
    config = producer_config("127.0.0.1:9092")
    assert config["message.timeout.ms"] == "0" and config["enable.idempotence"] == "true"

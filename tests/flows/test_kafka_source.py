"""The monitor's Kafka source against the real broker: partition listing."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient, NewTopic

from flows.kafka_clients import PREFETCH
from flows.kafka_source import MonitorKafkaSource
from tests.kafka_support import unique_topic


def test_partitions_are_listed_without_passing_consumer_settings_to_the_admin_client(kafka_bootstrap, capfd):
    # The admin client is a producer-type handle: consumer-only settings (the prefetch caps) made
    # librdkafka print a CONFWARN line for each at every start.
    topic = unique_topic("source-parts")
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(30)
    source = MonitorKafkaSource([kafka_bootstrap], [topic], add_config={**PREFETCH, "auto.offset.reset": "earliest"})
    parts = source.list_parts()
    assert sorted(parts) == [f"0-{topic}", f"1-{topic}"]
    assert "CONFWARN" not in capfd.readouterr().err

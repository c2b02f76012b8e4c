"""The producer sink against the real broker: records arrive, are delivered by the end of each epoch,
and a failed delivery stops the step."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from flows.kafka_sink import MAX_PROCESSES, OutRecord, ProducerSink, local_key
from tests.kafka_support import read_all, unique_topic


def _create(bootstrap: str, topic: str, config: dict[str, str] | None = None) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1, config=config or {})])[topic].result(30)


def _sink(bootstrap: str, linger_ms: int = 5):
    sink = ProducerSink({"bootstrap.servers": bootstrap, "enable.idempotence": "true", "acks": "all",
                         "linger.ms": str(linger_ms), "message.timeout.ms": "20000"})
    return sink.build_part("out", sink.list_parts()[0], None)


def test_written_records_arrive_in_order(kafka_bootstrap: str) -> None:
    topic = unique_topic("sink-ok")
    _create(kafka_bootstrap, topic)
    sink = _sink(kafka_bootstrap)
    sink.write_batch([[OutRecord(topic, b"a", b"1"), OutRecord(topic, None, b"2")], [OutRecord(topic, b"c", b"3")]])
    sink.close()
    assert read_all(kafka_bootstrap, topic) == [(b"a", b"1"), (None, b"2"), (b"c", b"3")]


def test_a_rejected_record_fails_the_step_naming_the_topic(kafka_bootstrap: str) -> None:
    # The broker refuses records over the topic's max.message.bytes: librdkafka reports the
    # failure through the producer-wide delivery callback, and write_batch raises.
    topic = unique_topic("sink-refused")
    _create(kafka_bootstrap, topic, {"max.message.bytes": "2000"})
    sink = _sink(kafka_bootstrap)
    sink.write_batch([[OutRecord(topic, b"k", b"x" * 20_000)]])
    with pytest.raises(KafkaException, match=f"delivery to {topic} failed"):
        sink.snapshot()   # the end of the epoch: it is not committed


def test_the_end_of_an_epoch_waits_until_every_record_is_delivered(kafka_bootstrap: str) -> None:
    # With 15 s of linger, librdkafka would hold the records that long: snapshot() must send
    # them and wait for the broker, so that a committed epoch's output is never lost in a crash.
    topic = unique_topic("sink-epoch")
    _create(kafka_bootstrap, topic)
    sink = _sink(kafka_bootstrap, linger_ms=15_000)
    sink.write_batch([[OutRecord(topic, b"a", b"1"), OutRecord(topic, b"b", b"2")]])
    sink.snapshot()
    assert read_all(kafka_bootstrap, topic, timeout=10) == [(b"a", b"1"), (b"b", b"2")]


@pytest.mark.parametrize("processes", [1, 2, 3, 7, MAX_PROCESSES])
def test_every_partition_has_one_owner_and_each_process_writes_through_its_own(processes: int) -> None:
    sinks = [ProducerSink({}, process_id, processes) for process_id in range(processes)]
    listed = [part for sink in sinks for part in sink.list_parts()]
    assert len(listed) == len(set(listed)) == MAX_PROCESSES   # any smaller cluster can resume the store
    everyone = sorted(listed)   # Bytewax indexes part_fn's value into the sorted global list
    for process_id, sink in enumerate(sinks):
        assert everyone[sink.part_fn(local_key(process_id))] in sink.list_parts()


def test_a_cluster_larger_than_the_partitions_is_refused() -> None:
    with pytest.raises(ValueError, match=f"at most {MAX_PROCESSES} processes"):
        ProducerSink({}, 0, MAX_PROCESSES + 1)

"""Helpers for tests on the real broker: unique topics, producing, reading a topic to its end."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import orjson
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A loopback port nothing listens on (for a server to take, or for a client to find closed)."""
    from slo_monitor.run import free_loopback_ports

    return free_loopback_ports(1)[0]


def broker_answers(bootstrap: str, timeout: float = 5.0) -> bool:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            pass
    except OSError:
        return False
    try:
        AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=timeout)
        return True
    except Exception:
        return False


def start_broker(port: int) -> None:
    env = {**os.environ, "KAFKA_PORT": str(port), "KAFKA_CONTROLLER_PORT": str(port + 1)}
    subprocess.run(["bash", str(REPO / "deploy/kafka/kafka-up.sh")], check=True, env=env)


def stop_broker(port: int, wipe: bool = False) -> None:
    env = {**os.environ, "KAFKA_PORT": str(port), "KAFKA_CONTROLLER_PORT": str(port + 1)}
    command = ["bash", str(REPO / "deploy/kafka/kafka-down.sh"), *(["--wipe"] if wipe else [])]
    subprocess.run(command, check=False, env=env)


def unique_topic(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:10]}"


def produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes | None]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 10})
    for key, value in records:
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(60) == 0, "records left unsent"


def read_all(bootstrap: str, topic: str, timeout: float = 30.0) -> list[tuple[bytes | None, bytes | None]]:
    """Every record of `topic` now, read from the beginning of each partition to its end."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"test-{uuid.uuid4().hex}", "enable.auto.commit": False}
    )
    metadata = consumer.list_topics(topic, timeout=10).topics[topic]
    ends = {}
    for partition in metadata.partitions:
        low, high = _watermarks(consumer, TopicPartition(topic, partition))
        if high > low:
            ends[partition] = high
    consumer.assign([TopicPartition(topic, p, 0) for p in ends] or [])
    records: list[tuple[bytes | None, bytes | None]] = []
    positions = {p: 0 for p in ends}
    deadline = time.monotonic() + timeout
    while any(positions[p] < ends[p] for p in ends):
        if time.monotonic() > deadline:
            raise TimeoutError(f"read {len(records)} records of {topic}, expected more")
        for message in consumer.consume(1000, 0.5):
            if message.error():
                continue
            records.append((message.key(), message.value()))
            positions[message.partition()] = message.offset() + 1
    consumer.close()
    return records


def _watermarks(consumer: Consumer, partition: TopicPartition, attempts: int = 20) -> tuple[int, int]:
    """Low and high offsets, retrying while a new or restarted topic has no leader yet."""
    for attempt in range(attempts):
        try:
            return consumer.get_watermark_offsets(partition, timeout=10)
        except KafkaException:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def read_json(bootstrap: str, topic: str) -> list[dict]:
    return [orjson.loads(value) for _, value in read_all(bootstrap, topic)]

"""A second real broker whose client listener is SASL_SSL (SCRAM-SHA-512 over TLS), for tests.

Started with deploy/kafka/kafka-sasl-up.sh in a temporary data dir, on the session broker's port
plus 100 (39092 -> 39192; 9092 -> 9192), and wiped afterwards.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from flows.kafka_clients import read_properties
from tests.kafka_support import REPO


@dataclass(frozen=True)
class SaslBroker:
    port: int            # the broker's own PLAINTEXT listener (never used by the monitor here)
    sasl_port: int       # SASL_SSL: what clients use
    data_dir: Path
    password: str

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.sasl_port}"

    @property
    def properties_file(self) -> Path:
        """Every client setting but the password (the script writes it)."""
        return self.data_dir / "client.properties"

    def client_config(self, password: str | None = None) -> dict[str, str]:
        return {"bootstrap.servers": self.bootstrap, **read_properties(self.properties_file),
                "sasl.password": self.password if password is None else password}

    def env(self) -> dict[str, str]:
        return {"KAFKA_PORT": str(self.port), "KAFKA_CONTROLLER_PORT": str(self.port + 1),
                "KAFKA_SASL_PORT": str(self.sasl_port), "KAFKA_DATA_DIR": str(self.data_dir)}


def start_sasl_broker(port: int, data_dir: Path, password: str) -> SaslBroker:
    broker = SaslBroker(port, port + 2, data_dir, password)
    for taken in (port, port + 1, port + 2):
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", taken)) != 0, f"port {taken} is taken: stop what listens there"
    env = {**os.environ, **broker.env(), "KAFKA_SASL_PASSWORD": password}
    subprocess.run(["bash", str(REPO / "deploy/kafka/kafka-sasl-up.sh")], check=True, env=env)
    return broker


def stop_sasl_broker(broker: SaslBroker) -> None:
    env = {**os.environ, **broker.env()}
    subprocess.run(["bash", str(REPO / "deploy/kafka/kafka-sasl-down.sh"), "--wipe"], check=False, env=env)


def topic_names(config: dict[str, str]) -> list[str]:
    return sorted(name for name in AdminClient(config).list_topics(timeout=15).topics if not name.startswith("__"))


def read_topic(config: dict[str, str], topic: str, timeout: float = 30.0) -> list[tuple[bytes | None, bytes | None]]:
    """Every record of `topic`, from each partition's start to its end now."""
    consumer = Consumer({**config, "group.id": f"test-{uuid.uuid4().hex}", "enable.auto.commit": False})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    ends = {}
    for partition in partitions:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        if high > low:
            ends[partition] = high
    consumer.assign([TopicPartition(topic, p, 0) for p in ends])
    records, positions = [], dict.fromkeys(ends, 0)
    deadline = time.monotonic() + timeout
    while any(positions[p] < ends[p] for p in ends):
        if time.monotonic() > deadline:
            raise TimeoutError(f"read {len(records)} records of {topic}, expected more")
        for message in consumer.consume(1000, 0.5):
            if message.error() is None:
                records.append((message.key(), message.value()))
                positions[message.partition()] = message.offset() + 1
    consumer.close()
    return records


def listening_addresses(port: int) -> set[str]:
    """IPv4/IPv6 addresses with a socket in LISTEN state on TCP `port` (from /proc/net)."""
    found = set()
    for name in ("tcp", "tcp6"):
        path = Path("/proc/net") / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, _, hex_port = fields[1].rpartition(":")
            if int(hex_port, 16) == port and fields[3] == "0A":
                found.add(_address(address))
    return found


def _address(hex_address: str) -> str:
    if len(hex_address) == 8:  # little-endian IPv4
        return ".".join(str(int(hex_address[i:i + 2], 16)) for i in (6, 4, 2, 0))
    return hex_address  # IPv6: compared only as "not loopback" by the tests


"""Close the loop in simulations: follow a control topic from a background thread and apply each
record to a running generator, as a serving system or review tool follows the remediation's
records (`review-sampling`, `model-control`).

Reads the topic from the beginning (what is in force already, then what comes), without a
consumer group (nothing to commit: the records themselves are the state), and hands every record
to `apply`. `caught_up` is set once the records present at start are applied.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

log = logging.getLogger(__name__)


class TopicFollower:
    """Calls `apply(key, value)` for each record of `topic`, from a background thread.

    Subclasses implement `apply`; what it raises is logged and the record skipped (a bad control
    record must not stop the traffic), `applied` counts the records it took.
    """

    def __init__(self, bootstrap_servers: str, topic: str, kafka_config: Mapping[str, str] | None = None):
        self.topic = topic
        self.applied = 0                          # records applied so far
        self.caught_up = threading.Event()        # set once the records present at start are applied
        self._config = {"bootstrap.servers": bootstrap_servers,
                        "group.id": f"{topic}-follower-{uuid.uuid4().hex[:8]}",  # never commits
                        "enable.auto.commit": "false", "auto.offset.reset": "earliest",
                        **dict(kafka_config or {})}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{topic}-follower", daemon=True)
        self.error: BaseException | None = None

    def apply(self, key: bytes | None, value: bytes | None) -> bool:
        """Apply one record; False when it is not for this follower (another model's)."""
        raise NotImplementedError

    def start(self) -> TopicFollower:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        consumer = Consumer(self._config)
        try:
            ends = self._assign(consumer)
            while not self._stop.is_set():
                for message in consumer.consume(100, 0.2):
                    if message.error():
                        if message.error().code() != KafkaError._PARTITION_EOF:
                            log.warning("%s: %s", self.topic, message.error())
                        continue
                    self._apply_safely(message.key(), message.value())
                    if ends and message.offset() + 1 >= ends.get(message.partition(), 0):
                        ends.pop(message.partition(), None)
                if not ends:
                    self.caught_up.set()
        except BaseException as error:  # noqa: BLE001 - reported to the owner
            self.error = error
            log.exception("%s follower failed", self.topic)
        finally:
            consumer.close()

    def _apply_safely(self, key: bytes | None, value: bytes | None) -> None:
        try:
            taken = self.apply(key, value)
        except (ValueError, KeyError, TypeError) as error:   # orjson's decode error is a ValueError
            log.warning("%s record keyed %r ignored: %s", self.topic, key, error)
            return
        if taken:
            self.applied += 1

    def _assign(self, consumer: Consumer) -> dict[int, int]:
        """Assign every partition from the beginning; partition -> end offset at start."""
        metadata = consumer.list_topics(self.topic, timeout=15).topics.get(self.topic)
        if metadata is None or metadata.error is not None:
            raise RuntimeError(f"topic {self.topic} not found")
        ends = {}
        for partition in metadata.partitions:
            low, high = self._watermarks(consumer, TopicPartition(self.topic, partition))
            if high > low:
                ends[partition] = high
        consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in metadata.partitions])
        return ends

    def _watermarks(self, consumer: Consumer, tp: TopicPartition) -> tuple[int, int]:
        """Low and high offsets, waiting up to 30 s for a just-created topic to get a leader."""
        deadline = time.monotonic() + 30
        while True:
            try:
                return consumer.get_watermark_offsets(tp, timeout=10)
            except KafkaException:
                if time.monotonic() > deadline or self._stop.is_set():
                    raise
                time.sleep(0.2)

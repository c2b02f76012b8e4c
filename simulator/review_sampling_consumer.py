"""Close the loop in simulations: follow the `review-sampling` topic and apply each record to a
running generator, as a real review tool would follow the responder's raised rates.

Reads the compacted topic from the beginning (the raises already in force, then the new ones),
without a consumer group (nothing to commit: the latest record per model is the state), and calls
`apply_review_sampling` for records of the generator's model; tombstones clear the override. Runs
in a background thread next to `run_simulation`; `TrafficGenerator.set_review_rate` is safe to call
from it.

    follower = ReviewSamplingFollower(generator, "127.0.0.1:9092").start()
    follower.caught_up.wait(10)      # raises in force are applied before traffic starts
    run_simulation(generator, sink, realtime=True, speed=60)
    follower.stop()
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from simulator.review_sampling import apply_review_sampling
from simulator.streams import TrafficGenerator

log = logging.getLogger(__name__)


class ReviewSamplingFollower:
    """Applies review-sampling records to `generator` from a background thread."""

    def __init__(self, generator: TrafficGenerator, bootstrap_servers: str, topic: str = "review-sampling",
                 kafka_config: Mapping[str, str] | None = None):
        self.generator = generator
        self.topic = topic
        self.applied = 0                          # records applied so far
        self.caught_up = threading.Event()        # set once the records present at start are applied
        self._config = {"bootstrap.servers": bootstrap_servers,
                        "group.id": f"review-sampling-follower-{uuid.uuid4().hex[:8]}",  # never commits
                        "enable.auto.commit": "false", "auto.offset.reset": "earliest",
                        **dict(kafka_config or {})}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="review-sampling-follower", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> ReviewSamplingFollower:
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
                            log.warning("review-sampling: %s", message.error())
                        continue
                    self._apply(message.key(), message.value())
                    if ends and message.offset() + 1 >= ends.get(message.partition(), 0):
                        ends.pop(message.partition(), None)
                if not ends:
                    self.caught_up.set()
        except BaseException as error:  # noqa: BLE001 - reported to the owner
            self.error = error
            log.exception("review-sampling follower failed")
        finally:
            consumer.close()

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

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        model_id = key.decode("utf-8", "replace") if key else None
        record = None
        if value is not None:
            try:
                record = orjson.loads(value)
            except orjson.JSONDecodeError:
                log.warning("review-sampling record for %s is not JSON; ignored", model_id)
                return
            model_id = record.get("model_id") or model_id
        if model_id != self.generator.model_id:
            return
        try:
            apply_review_sampling(self.generator, record, model_id=model_id)
        except (ValueError, KeyError, TypeError) as error:
            log.warning("review-sampling record for %s ignored: %s", model_id, error)
            return
        self.applied += 1
        change = "back to baseline" if record is None else f"rate {record.get('rate')} until {record.get('expires_at')}"
        log.info("review sampling of %s: %s", model_id, change)

"""The status page's Kafka consumer: the monitor's output topics into a `StatusView`.

Its own throw-away consumer group (nothing committed), so it never takes partitions from the
responder or the executor. On each assignment it starts `history` seconds back (by record
timestamp), so a restarted page shows the recent past without reading years of topic. A topic
that does not exist yet is picked up when it appears. A record that does not parse is counted and
skipped: the page never stops on bad input.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from prometheus_client import Counter

from slo_monitor.status_page.view import StatusView

log = logging.getLogger(__name__)

RECORDS = Counter("slo_monitor_status_page_records", "Records the status page read, by topic and result",
                  ["topic", "result"])


@dataclass(frozen=True)
class FeedTopics:
    status: str = "slo-status"
    alerts: str = "slo-alerts"
    actions: str = "remediation-actions"


class StatusFeed:
    """Consumes the three topics in a daemon thread until `stop()`."""

    def __init__(self, view: StatusView, bootstrap_servers: str, topics: FeedTopics = FeedTopics(), *,
                 history: float = 24 * 3600.0, kafka_config: Mapping[str, str] | None = None) -> None:
        self.view, self.topics, self.history = view, topics, history
        self._config = {
            "bootstrap.servers": bootstrap_servers,
            **(kafka_config or {}),
            "group.id": f"slo-monitor-status-page-{uuid.uuid4().hex[:12]}",
            "enable.auto.commit": "false",
            "auto.offset.reset": "earliest",
            "topic.metadata.refresh.interval.ms": "5000",   # pick up topics created after the start
        }
        self._apply = {topics.status: view.apply_status, topics.alerts: view.apply_alert,
                       topics.actions: view.apply_action}
        self._stop = threading.Event()
        self.assigned = threading.Event()
        self._thread = threading.Thread(target=self._run, name="status-page-feed", daemon=True)

    def start(self) -> StatusFeed:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        since_ms = int((time.time() - self.history) * 1000)
        wanted = [TopicPartition(p.topic, p.partition, since_ms) for p in partitions]
        try:
            found = consumer.offsets_for_times(wanted, timeout=10)
            # -1: no record that new; start at the end (OFFSET_END is the same value)
            start = [TopicPartition(p.topic, p.partition, p.offset if p.offset >= 0 else -1) for p in found]
        except Exception as error:  # noqa: BLE001 - fall back to the whole topic rather than nothing
            log.warning("status page: offsets_for_times failed (%s); reading from the beginning", error)
            start = [TopicPartition(p.topic, p.partition, OFFSET_BEGINNING) for p in partitions]
        consumer.assign(start)
        self.assigned.set()

    def _run(self) -> None:
        consumer = Consumer(self._config)
        consumer.subscribe(list(self._apply), on_assign=self._on_assign)
        try:
            while not self._stop.is_set():
                for message in consumer.consume(500, 0.5):
                    self._handle(message)
        finally:
            consumer.close()

    def _handle(self, message) -> None:
        error = message.error()
        if error is not None:
            if error.code() not in (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART):
                log.warning("status page: %s", error)
            return
        topic = message.topic()
        if message.value() is None:
            return                                   # a tombstone says nothing to show
        try:
            self._apply[topic](orjson.loads(message.value()))
        except (orjson.JSONDecodeError, ValueError, TypeError, KeyError) as error:
            RECORDS.labels(topic, "invalid").inc()
            self.view.counts["invalid"] += 1
            log.debug("status page: skipped a record of %s: %s", topic, error)
            return
        RECORDS.labels(topic, "shown").inc()

"""Summaries from the `slo-diagnostics` topic (key = alert id, value = the summary JSON the
monitor made when the alert opened), kept in a bounded store for the report action.

The reader has no consumer group and never commits: at start it begins `history` seconds back
(by record timestamp), so the summaries of alerts that are still to be worked after a restart
are found again; afterwards it reads what arrives. Partitions are those of the topic when it
is first read. The store keeps the last `capacity` summaries (oldest dropped first); a record
that is not a JSON object with an alert id is counted and logged, and stays in Kafka.

>>> store = SummaryStore(capacity=2)
>>> for i in range(3):
...     store.put(f"a{i}", {"n": i})
>>> store.get("a0"), store.get("a2"), len(store)
(None, {'n': 2}, 2)
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import orjson
from confluent_kafka import OFFSET_END, Consumer, TopicPartition

from remediation.kafka_config import history_config

log = logging.getLogger(__name__)

DEFAULT_DIAGNOSTICS_TOPIC = "slo-diagnostics"


class SummaryStore:
    """The last `capacity` summaries by alert id."""

    def __init__(self, capacity: int = 64):
        self.capacity = capacity
        self._items: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def put(self, alert_id: str, summary: dict[str, Any]) -> None:
        self._items[alert_id] = summary
        self._items.move_to_end(alert_id)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def get(self, alert_id: str) -> dict[str, Any] | None:
        return self._items.get(alert_id)

    def __len__(self) -> int:
        return len(self._items)


def parse_summary(key: bytes | None, value: bytes | None) -> tuple[str, dict[str, Any]]:
    """(alert id, summary) of one record; ValueError naming the problem otherwise."""
    if value is None:
        raise ValueError("no value")
    try:
        summary = orjson.loads(value)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error}") from None
    if not isinstance(summary, dict):
        raise ValueError("not a JSON object")
    alert_id = key.decode("utf-8", "replace") if key else (summary.get("alert") or {}).get("alert_id")
    if not isinstance(alert_id, str) or not alert_id:
        raise ValueError("no alert id (neither a record key nor alert.alert_id)")
    return alert_id, summary


class DiagnosticsFeed:
    """Reads `topic` into a `SummaryStore`; `poll()` from the executor's thread only."""

    def __init__(self, bootstrap: str, topic: str = DEFAULT_DIAGNOSTICS_TOPIC,
                 extra: Mapping[str, str] | None = None, history: float = 24 * 3600,
                 store: SummaryStore | None = None):
        self.bootstrap, self.topic, self.extra, self.history = bootstrap, topic, extra, history
        self.store = store or SummaryStore()
        self.invalid = 0
        self._consumer: Consumer | None = None

    def _open(self) -> Consumer | None:
        config = history_config(self.bootstrap, self.extra)
        config["group.id"] = f"slo-monitor-diagnostics-{uuid.uuid4().hex[:8]}"   # never commits
        consumer = Consumer(config)
        metadata = consumer.list_topics(self.topic, timeout=15).topics.get(self.topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            consumer.close()
            return None                     # not created yet: try again at the next poll
        since = int((time.time() - self.history) * 1000)
        wanted = [TopicPartition(self.topic, p, since) for p in sorted(metadata.partitions)]
        starts = consumer.offsets_for_times(wanted, timeout=15)
        consumer.assign([TopicPartition(self.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_END)
                         for tp in starts])
        return consumer

    def poll(self, timeout: float = 0.0) -> int:
        """Read what is there (waiting at most `timeout` seconds); the number of summaries stored."""
        if self._consumer is None:
            self._consumer = self._open()
            if self._consumer is None:
                return 0
        stored = 0
        while True:
            messages = self._consumer.consume(500, timeout)
            for message in messages:
                if message.error():
                    log.warning("%s: %s", self.topic, message.error())
                    continue
                try:
                    alert_id, summary = parse_summary(message.key(), message.value())
                except ValueError as error:
                    self.invalid += 1
                    log.warning("%s[%d]@%d is not a diagnostic summary (%s); ignored", self.topic,
                                message.partition(), message.offset(), error)
                    continue
                self.store.put(alert_id, summary)
                stored += 1
            if len(messages) < 500:
                return stored
            timeout = 0.0

    def get(self, alert_id: str) -> dict[str, Any] | None:
        """The alert's summary, reading the topic first."""
        self.poll()
        return self.store.get(alert_id)

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

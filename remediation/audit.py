"""Audit records on ``remediation-actions``: every page sent, logged, suppressed, coalesced or
rejected, and why, so "why was I (not) paged?" has an answer in Kafka.

Key ``<slo>/<model_id>``; value JSON with ``action: "page"``, ``outcome`` (sent | logged |
suppressed | coalesced | rejected), ``rule`` (which rule decided), ``reason`` (one sentence), and
the alert's identity. Targets are named (``tier:critical``), never the routing key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from confluent_kafka import KafkaException, Producer

from remediation.alert_record import Alert

log = logging.getLogger(__name__)

SENT, LOGGED, SUPPRESSED, COALESCED, REJECTED = "sent", "logged", "suppressed", "coalesced", "rejected"


@dataclass(frozen=True)
class AuditRecord:
    key: str
    value: dict[str, Any]


def page_record(outcome: str, rule: str, reason: str, alert: Alert | None, *,
                event_action: str | None = None, target: str | None = None, dedup_key: str | None = None,
                status: int | None = None, attempts: int | None = None, key: str | None = None,
                now: datetime | None = None) -> AuditRecord:
    """One audit record. `alert` is None only for records that did not parse."""
    value: dict[str, Any] = {
        "action": "page",
        "outcome": outcome,
        "rule": rule,
        "reason": reason,
        "alert_id": alert.alert_id if alert else None,
        "dedup_key": dedup_key or (alert.dedup_key if alert else None),
        "severity": alert.severity if alert else None,
        "event_time": alert.event_time_text if alert else None,
        "alert_action": alert.action if alert else None,
        "slo": alert.slo if alert else None,
        "model_id": alert.model_id if alert else None,
        "segment": alert.segment if alert else None,
        "event_action": event_action,
        "target": target,
        "http_status": status,
        "attempts": attempts,
        "decided_at": (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
    }
    return AuditRecord(alert.audit_key if alert else (key or "unknown"), value)


class AuditSink(Protocol):
    def write(self, record: AuditRecord) -> None: ...
    def flush(self, timeout: float) -> int: ...
    def close(self) -> None: ...


class KafkaAuditSink:
    """Writes audit records with an idempotent producer; `flush` before committing offsets, so
    a committed alert always has its audit record in Kafka."""

    def __init__(self, config: dict[str, str], topic: str):
        self._producer = Producer(config)
        self._topic = topic
        self._failed = 0

    def write(self, record: AuditRecord) -> None:
        payload = orjson.dumps(record.value)
        while True:
            try:
                self._producer.produce(self._topic, payload, record.key.encode(), on_delivery=self._delivered)
                break
            except BufferError:
                self._producer.poll(0.1)
        self._producer.poll(0)

    def flush(self, timeout: float = 30.0) -> int:
        """Records still unsent after `timeout` (0 when all are in Kafka)."""
        return self._producer.flush(timeout)

    def close(self) -> None:
        left = self.flush(10.0)
        if left:
            log.error("%d audit records could not be written to %s", left, self._topic)

    def _delivered(self, error: KafkaException | None, _message: Any) -> None:
        if error is not None:
            self._failed += 1
            log.error("audit record not written to %s: %s", self._topic, error)


class MemoryAuditSink:
    """Keeps records in a list (for tests and embedding)."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def write(self, record: AuditRecord) -> None:
        self.records.append(record)

    def flush(self, timeout: float = 0.0) -> int:
        return 0

    def close(self) -> None:
        pass

"""Audit records on ``remediation-actions``: every page sent, logged, suppressed, coalesced or
rejected, and why, so "why was I (not) paged?" has an answer in Kafka.

Key ``<slo>/<model_id>``; value JSON with ``action: "page"``, ``outcome`` (sent | logged |
suppressed | coalesced | rejected), ``rule`` (which rule decided), ``reason`` (one sentence), and
the alert's identity. Targets are named (``tier:critical``), never the routing key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from remediation.alert_record import Alert
from remediation.json_producer import JsonProducer

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
    value = audit_value("page", outcome, rule, reason, alert, now, event_action=event_action, target=target,
                        http_status=status, attempts=attempts)
    if dedup_key:   # the event's own, when it is not the alert's
        value["dedup_key"] = dedup_key
    return AuditRecord(alert.audit_key if alert else (key or "unknown"), value)


def audit_value(action: str, outcome: str, rule: str, reason: str, alert: Alert | None, now: datetime | None,
                **facts: Any) -> dict[str, Any]:
    """What every audit record says: the decision and why, the alert it was about (its fields null
    without one), the record's own `facts`, and when it was decided."""
    return {
        "action": action,
        "outcome": outcome,
        "rule": rule,
        "reason": reason,
        "alert_id": alert.alert_id if alert else None,
        "dedup_key": alert.dedup_key if alert else None,
        "severity": alert.severity if alert else None,
        "event_time": alert.event_time_text if alert else None,
        "alert_action": alert.action if alert else None,
        "slo": alert.slo if alert else None,
        "model_id": alert.model_id if alert else None,
        "segment": alert.segment if alert else None,
        "model_version": alert.model_version if alert else None,
        **facts,
        "decided_at": (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
    }


class AuditSink(Protocol):
    def write(self, record: AuditRecord) -> None: ...
    def flush(self, timeout: float) -> int: ...
    def close(self) -> None: ...


class KafkaAuditSink(JsonProducer):
    """Writes audit records to one topic; `flush` before committing offsets, so a committed
    alert always has its audit record in Kafka (remediation/json_producer.py)."""

    def __init__(self, config: dict[str, str], topic: str):
        super().__init__(config, "audit records")
        self._topic = topic

    def write(self, record: AuditRecord) -> None:
        self.send(self._topic, record.key, record.value)


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

"""Helpers for responder tests: alert records, topics, waiting, committed offsets, a responder."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Iterator

import orjson
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from remediation.alert_record import Alert, parse_alert
from remediation.delivery import HttpRetryPolicy
from remediation.rate_limit import Backoff
from remediation.receiver import LocalEventsApi
from remediation.responder import ResponderSettings, ResponderThread, start_responder
from remediation.routing_keys import RoutingConfig
from tests.kafka_support import unique_topic

KEY = "0123456789abcdef0123456789abcdef"        # 32 characters, like a real integration key
OTHER_KEY = "fedcba9876543210fedcba9876543210"


def alert_dict(action: str = "trigger", severity: str = "critical", minute: int = 0, *,
               slo: str = "fraud-precision", model_id: str = "fraud-detector", segment: str | None = None,
               alert_id: str | None = None, dedup_key: str | None = None, **extra: Any) -> dict[str, Any]:
    """A realistic slo-alerts record; `minute` sets the event time."""
    key = f"{slo}/{model_id}" + (f"/{segment}" if segment else "")
    record = {
        "alert_id": alert_id or f"ep-{key}",
        "dedup_key": dedup_key or key,
        "action": action,
        "severity": severity,
        "slo": slo,
        "model_id": model_id,
        "segment": segment,
        "model_version": "7",
        "event_time": f"2026-11-26T12:{minute:02d}:00Z",
        "estimate": 0.912,
        "lower": 0.89,
        "upper": 0.931,
        "labels": 240,
        "reason": f"Precision {0.912} is below the 0.95 objective with 95% confidence.",
        "metric": "precision",
        "objective": 0.95,
        "burn_rates": {"1h": 14.2, "5m": 15.0},
        "top_segments": [{"segment": "country=US", "estimate": 0.85, "labels": 90}],
    }
    record.update(extra)
    return record


def alert(action: str = "trigger", severity: str = "critical", minute: int = 0, **kw: Any) -> Alert:
    return parse_alert(alert_dict(action, severity, minute, **kw))


def kafka_record(record: dict[str, Any]) -> tuple[bytes, bytes]:
    key = f"{record['slo']}/{record['model_id']}" + (f"/{record['segment']}" if record.get("segment") else "")
    return key.encode(), orjson.dumps(record)


def create_topic(bootstrap: str, stem: str, partitions: int = 1) -> str:
    name = unique_topic(stem)
    admin = AdminClient({"bootstrap.servers": bootstrap})   # keep it alive until the topic exists
    admin.create_topics([NewTopic(name, num_partitions=partitions)])[name].result(30)
    return name


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def committed(bootstrap: str, group: str, topic: str, partition: int = 0) -> int:
    """The group's committed offset (negative when none)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        return consumer.committed([TopicPartition(topic, partition)], timeout=10)[0].offset
    finally:
        consumer.close()


def fast_settings(bootstrap: str, api: LocalEventsApi | None, alerts: str, actions: str, **overrides: Any) -> ResponderSettings:
    """Settings for tests: short backoffs, unique group, the local receiver."""
    settings = ResponderSettings(
        bootstrap_servers=bootstrap,
        alerts_topic=alerts,
        actions_topic=actions,
        group_id=f"responder-test-{uuid.uuid4().hex[:8]}",
        routing=RoutingConfig.from_environment({"PAGERDUTY_ROUTING_KEY": KEY}),
        events_url=api.url if api else None,
        ca_bundle=api.ca_file if api else None,
        http_retry=HttpRetryPolicy(retries=1, first_sleep=0.05, timeout=5.0),
        backoff=Backoff(initial=0.1, maximum=0.5),
        rate_limit_per_minute=None,
        topic_partitions=1,
    )
    return replace(settings, **overrides)


@contextmanager
def running(settings: ResponderSettings, environ: dict[str, str] | None = None) -> Iterator[ResponderThread]:
    """A responder in a thread, stopped (and checked for errors) at the end."""
    thread = start_responder(settings, environ={"PAGERDUTY_ROUTING_KEY": KEY} if environ is None else environ)
    try:
        assert thread.service.ready.wait(30), "responder got no partitions"
        yield thread
    finally:
        thread.stop(30)
        assert not thread.is_alive(), "responder did not stop"
        assert thread.error is None, f"responder failed: {thread.error!r}"


def incident_view(api: LocalEventsApi) -> list[tuple[str, str, str, list[str]]]:
    """(dedup key, status, final severity, severities) per incident, in creation order."""
    return [(i.dedup_key, i.status, i.severity, i.severities) for i in api.incidents()]

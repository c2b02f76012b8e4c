"""Helpers for the executor tests: alerts that call for actions, settings, a running executor,
and readers for the topics it writes."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import orjson

from remediation.delivery import HttpRetryPolicy
from remediation.executor import ExecutorSettings, ExecutorThread, start_executor
from remediation.playbook_config import PlaybookConfig, parse_playbook_config
from remediation.rate_limit import Backoff
from remediation.receiver import LocalEventsApi
from remediation.routing_keys import RoutingConfig
from tests.kafka_support import read_all, unique_topic
from tests.remediation.support import KEY, alert_dict, committed, create_topic, wait_for

FULL_PLAYBOOK = ["rollback", "raise_review_sampling", "diagnostic_report"]


def breach(minute: int = 0, *, model_id: str, version: str | None = "5", last_healthy: str | None = "4",
           severity: str = "critical", action: str = "trigger", alert_id: str | None = None, labels: int = 240,
           remediation: list[str] | None = None, slo: str = "fraud-precision", **extra: Any) -> dict[str, Any]:
    """An slo-alerts record as the engine writes it for a breach of `model_id` on `version`."""
    record = alert_dict(action, severity, minute, slo=slo, model_id=model_id,
                        alert_id=alert_id or f"ep-{uuid.uuid4().hex[:8]}", labels=labels,
                        remediation=FULL_PLAYBOOK if remediation is None else remediation, **extra)
    record["model_version"] = version
    if last_healthy is not None:
        record["last_healthy_version"] = last_healthy
    return record


def playbooks(data: dict[str, Any] | None = None) -> PlaybookConfig:
    return parse_playbook_config(data or {}, "test-remediation.yaml")


@contextmanager
def topics(bootstrap: str) -> Iterator[dict[str, str]]:
    yield {"alerts_topic": create_topic(bootstrap, "alerts"), "actions_topic": unique_topic("actions"),
           "model_control_topic": unique_topic("model-control"), "review_sampling_topic": unique_topic("sampling")}


def settings(bootstrap: str, names: dict[str, str], *, tracking_uri: str | None, api: LocalEventsApi | None = None,
             config: PlaybookConfig | None = None, **overrides: Any) -> ExecutorSettings:
    """Settings for tests: unique group, fast retries, the local PagerDuty receiver if given."""
    base = ExecutorSettings(
        bootstrap_servers=bootstrap, group_id=f"executor-test-{uuid.uuid4().hex[:8]}",
        playbooks=config or playbooks(), tracking_uri=tracking_uri,
        routing=RoutingConfig.from_environment({"PAGERDUTY_ROUTING_KEY": KEY}),
        events_url=api.url if api else None, ca_bundle=api.ca_file if api else None,
        change_events=api is not None, webhook_url=None,
        http_retry=HttpRetryPolicy(retries=1, first_sleep=0.05, timeout=5.0),
        backoff=Backoff(initial=0.2, maximum=1.0), topic_partitions=1, **names)
    return replace(base, **overrides)


@contextmanager
def running(s: ExecutorSettings, clock: Callable[[], float] | None = None, **kwargs: Any) -> Iterator[ExecutorThread]:
    """An executor in a thread, stopped (and checked for errors) at the end."""
    kwargs.setdefault("environ", {"PAGERDUTY_ROUTING_KEY": KEY})
    if clock is not None:
        kwargs["clock"] = clock
    thread = start_executor(s, **kwargs)
    try:
        assert thread.service.ready.wait(30), "executor got no partitions"
        yield thread
    finally:
        thread.stop(30)
        assert not thread.is_alive(), "executor did not stop"
        assert thread.error is None, f"executor failed: {thread.error!r}"


def settled(bootstrap: str, s: ExecutorSettings, count: int, what: str, timeout: float = 60.0) -> None:
    """Wait until the executor's group committed `count` alerts (all their actions settled)."""
    wait_for(lambda: committed(bootstrap, s.group_id, s.alerts_topic) == count, timeout=timeout, what=what)


def records(bootstrap: str, topic: str) -> list[tuple[str | None, Any]]:
    """(key, decoded value, None for tombstones, bytes if not JSON) of every record of `topic`, in order."""
    try:
        raw = read_all(bootstrap, topic)
    except KeyError:          # topic not created yet
        return []
    def decode(value: bytes | None) -> Any:
        try:
            return orjson.loads(value) if value is not None else None
        except orjson.JSONDecodeError:
            return value

    return [(k.decode() if k else None, decode(v)) for k, v in raw]


def audit(bootstrap: str, topic: str, action: str | None = None) -> list[dict[str, Any]]:
    return [v for _, v in records(bootstrap, topic) if v and (action is None or v["action"] == action)]


def outcomes(bootstrap: str, topic: str, action: str | None = None) -> list[tuple[str, str, str]]:
    return [(a["action"], a["outcome"], a["rule"]) for a in audit(bootstrap, topic, action)]

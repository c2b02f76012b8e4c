"""What the responder and the executor both need: where slo-alerts are and how they are read,
where PagerDuty is, and how hard to push. Each service's settings add their own; the defaults
are CONTRACT.md's topics and its environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from remediation.delivery import HttpRetryPolicy
from remediation.rate_limit import Backoff


@dataclass(frozen=True)
class AlertServiceSettings:
    bootstrap_servers: str = field(default_factory=lambda: os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    alerts_topic: str = "slo-alerts"
    actions_topic: str = "remediation-actions"
    group_id: str = "slo-monitor-service"          # each service sets its own
    instance_id: str | None = None                 # static group membership (fast restarts)
    kafka_config: Mapping[str, str] = field(default_factory=dict)
    events_url: str | None = field(default_factory=lambda: os.environ.get("PAGERDUTY_EVENTS_URL") or None)
    ca_bundle: str | None = field(default_factory=lambda: os.environ.get("PAGERDUTY_CA_BUNDLE") or None)
    http_retry: HttpRetryPolicy = HttpRetryPolicy()
    backoff: Backoff = Backoff()                   # between attempts while a dependency is down
    max_pending: int = 1000                        # alerts waiting before consumption pauses
    create_topics: bool = True
    topic_partitions: int = 4                      # for topics it creates

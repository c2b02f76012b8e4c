"""The whole product on one machine: traffic -> Kafka -> monitor -> responder -> PagerDuty.

Only PagerDuty is local (a receiver that follows the Events API v2 contract); the broker is
real and `slo-monitor run` runs as users run it.
"""

from __future__ import annotations

import signal
import time

import pytest

from remediation.receiver import LocalEventsApi
from simulator.scenarios import precision_drop
from tests.flows.cli_monitor import alerts, finish, last_status_per_key, run_command, start, wait_for
from tests.flows.monitor_support import FAST_LABELS, HOUR, monitor_topics, write_traffic

pytestmark = pytest.mark.kafka
ROUTING_KEY = "R0UT1NGKEYE2E0000000000000000000"  # 32 characters, like a real integration key
WHOLE_MODEL = "fraud-precision/fraud-detector"


def test_breach_is_paged_once_and_resolved_at_pagerduty(kafka_bootstrap):
    inputs, outputs = monitor_topics(), monitor_topics()
    scenario = precision_drop(FAST_LABELS, change_at=4 * HOUR, precision_after=0.85, recover_at=7 * HOUR)
    write_traffic(kafka_bootstrap, inputs, scenario, hours=11)
    with LocalEventsApi() as pagerduty:
        monitor = start(run_command(kafka_bootstrap, inputs, outputs),
                        env={**pagerduty.env(), "PAGERDUTY_ROUTING_KEY": ROUTING_KEY})

        def evaluated_to_the_end() -> bool:
            latest = last_status_per_key(kafka_bootstrap, outputs.status).get(WHOLE_MODEL)
            return latest is not None and latest["event_time"] >= "2025-01-06T10:55:00Z"

        wait_for(evaluated_to_the_end, 300, "the monitor to evaluate all the traffic", monitor)
        seen = {"count": -1, "since": time.monotonic()}

        def paging_settled() -> bool:  # no new request to PagerDuty for 5 seconds
            count = len(pagerduty.requests())
            if count != seen["count"]:
                seen.update(count=count, since=time.monotonic())
            return time.monotonic() - seen["since"] > 5

        wait_for(paging_settled, 60, "the responder to finish paging", monitor)
        monitor.send_signal(signal.SIGTERM)
        stderr = finish(monitor)
        incidents = [i for i in pagerduty.incidents() if i.dedup_key == WHOLE_MODEL]
    # One episode: the collapse at 04:00 pages, the recovery at 07:00 resolves, and the healthy
    # hours after it page nothing (the bad hours still inside the long burn window must not).
    assert len(incidents) == 1, incidents
    incident = incidents[0]
    assert incident.actions[0] == "trigger" and incident.actions[-1] == "resolve", incident.actions
    assert "critical" in incident.severities
    assert "fraud-precision" in incident.summary and len(incident.summary) <= 1024
    written = [a for a in alerts(kafka_bootstrap, outputs.alerts) if a["dedup_key"] == WHOLE_MODEL]
    assert written[0]["action"] == "trigger" and written[-1]["action"] == "resolve", [(w["action"], w["severity"], w["event_time"]) for w in written]
    assert ROUTING_KEY not in stderr

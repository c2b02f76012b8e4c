"""Fault: the broker is stopped for 60 seconds mid-stream and started again.

The monitor (with its responder) runs as users run it, on a broker of its own (the session
broker's port + 200) that this test stops and starts. Two hours of traffic with junk records
are read, the broker goes away for a minute, and two more hours, including a precision
collapse, arrive after it is back. The monitor must catch up by itself, and count everything
exactly as an uninterrupted replay of the same topics does.

Before the fix in flows/kafka_clients.py the monitor never resumed: librdkafka wrote ~650 KB of
reconnect errors to stderr during the outage, the stderr pipe filled, and librdkafka's broker
threads blocked writing to it, so the consumers fetched nothing more, without any error.
"""

from __future__ import annotations

import signal
import time

import pytest

from remediation.receiver import LocalEventsApi
from simulator.kafka_writer import KafkaWriter
from simulator.runner import run_simulation
from simulator.scenarios import precision_drop
from simulator.streams import TrafficGenerator
from tests.flows.cli_monitor import finish, last_status_per_key, run_command, start, wait_for
from tests.flows.monitor_support import FAST_LABELS, HOUR, START, monitor_topics
from tests.kafka_support import produce, start_broker, stop_broker
from tests.reliability.accounting import (
    assert_counted_like_reference,
    assert_dead_letters_once,
    assert_paged_once,
    junk_records,
)

pytestmark = pytest.mark.kafka

OUTAGE = 60.0
WHOLE_MODEL = "fraud-precision/fraud-detector"
ROUTING_KEY = "R0UT1NGKEYRESTART000000000000000"
ACTIONS_TOPIC = "remediation-actions"


@pytest.fixture
def own_broker(kafka_bootstrap):
    port = int(kafka_bootstrap.rpartition(":")[2]) + 200
    start_broker(port)
    try:
        yield port
    finally:
        stop_broker(port, wipe=True)


def _evaluated_until(bootstrap: str, topic: str) -> str:
    latest = last_status_per_key(bootstrap, topic).get(WHOLE_MODEL)
    return latest["event_time"] if latest else ""


def _write(bootstrap: str, inputs, start_at: float, hours: float, seed: int, drop_after: float) -> None:
    """Traffic from `start_at`; precision falls to 0.80 `drop_after` seconds in."""
    scenario = precision_drop(FAST_LABELS, change_at=drop_after, precision_after=0.80)
    generator = TrafficGenerator(scenario, start=start_at, duration=hours * HOUR, rate_per_hour=6000, seed=seed)
    writer = KafkaWriter(bootstrap, inputs.predictions, inputs.labels, partitions=2)
    run_simulation(generator, writer)
    assert writer.failed == 0, writer.first_error


def test_broker_stopped_for_a_minute_mid_stream(own_broker):
    bootstrap = f"127.0.0.1:{own_broker}"
    inputs, outputs, reference = monitor_topics(), monitor_topics(), monitor_topics()
    junk_p, junk_l = junk_records("p1", 70), junk_records("l1", 35)
    _write(bootstrap, inputs, START, 2, seed=21, drop_after=10 * HOUR)
    produce(bootstrap, inputs.predictions, junk_p)
    produce(bootstrap, inputs.labels, junk_l)

    with LocalEventsApi() as pagerduty:
        monitor = start(run_command(bootstrap, inputs, outputs, "--no-remediation"),
                        env={**pagerduty.env(), "PAGERDUTY_ROUTING_KEY": ROUTING_KEY})
        try:
            wait_for(lambda: _evaluated_until(bootstrap, outputs.status) >= "2025-01-06T01:5", 180,
                     "the monitor to read the first two hours", monitor)
            stop_broker(own_broker)
            time.sleep(OUTAGE)
            assert monitor.poll() is None, "the monitor died during the outage"
            start_broker(own_broker)

            _write(bootstrap, inputs, START + 2 * HOUR, 2, seed=22, drop_after=60.0)
            more_p = junk_records("p2", 14)
            produce(bootstrap, inputs.predictions, more_p)
            junk_p += more_p
            wait_for(lambda: _evaluated_until(bootstrap, outputs.status) >= "2025-01-06T03:5", 180,
                     "the monitor to resume after the broker came back", monitor)
            seen = {"count": -1, "since": time.monotonic()}

            def paging_settled() -> bool:
                count = len(pagerduty.requests())
                if count != seen["count"]:
                    seen.update(count=count, since=time.monotonic())
                return count > 0 and time.monotonic() - seen["since"] > 5

            wait_for(paging_settled, 120, "the responder to page", monitor)
        finally:
            monitor.send_signal(signal.SIGTERM)
        stderr = finish(monitor)
        accepted = sum(r.status == 202 for r in pagerduty.requests())

    assert len(stderr) < 60_000, "the outage flooded the log"
    assert_dead_letters_once(bootstrap, inputs.predictions, junk_p)
    assert_dead_letters_once(bootstrap, inputs.labels, junk_l)
    assert_paged_once(bootstrap, outputs.alerts, ACTIONS_TOPIC, accepted)
    finish(start(run_command(bootstrap, inputs, reference, "--until-end", "--no-responder", "--no-remediation")))
    assert_counted_like_reference(bootstrap, outputs, reference)

"""Fault: the broker is stopped mid-stream and started again; in one case the monitor is also
killed while the broker is down.

The monitor runs as users run it, on a broker of its own (the session broker's port + 200) that
this test stops and starts. Two hours of traffic with junk records are read, the broker goes
away, and two more hours, with a precision collapse, arrive after it is back. The monitor must
catch up by itself, and count everything exactly as an uninterrupted replay of the same topics
does (tests/reliability/accounting.py). The cases:

- `60s`: one process with its responder; the broker is down for a minute.
- `monitor-killed-during-outage`: the breach starts, and is paged, before the outage; the monitor
  (with `--recovery-dir`) is killed with SIGKILL while the broker is down, and started again
  once the broker is back.
- `two-processes`: `run --processes 2`, paging by a separate `slo-monitor respond` process,
  whose librdkafka log lines during the outage must be rate-limited as the monitor's are.

Before the fix in flows/kafka_clients.py the monitor never resumed: librdkafka wrote ~650 KB of
reconnect errors to stderr during the outage, the stderr pipe filled, and librdkafka's broker
threads blocked writing to it, so the consumers fetched nothing more, without any error.
"""

from __future__ import annotations

import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from remediation.receiver import LocalEventsApi
from simulator.kafka_writer import KafkaWriter
from simulator.runner import run_simulation
from simulator.scenarios import precision_drop
from simulator.streams import TrafficGenerator
from tests.flows.cli_monitor import SLO_FILE, finish, last_status_per_key, run_command, start, wait_for
from tests.flows.monitor_support import FAST_LABELS, HOUR, START, monitor_topics
from tests.kafka_support import produce, start_broker, stop_broker
from tests.reliability.accounting import (
    assert_counted_like_reference,
    assert_dead_letters_once,
    assert_paged_once,
    junk_records,
    undecided_alerts,
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


@dataclass(frozen=True)
class Outage:
    seconds: float                       # how long the broker is down
    monitor_args: tuple[str, ...] = ()
    kill_monitor: bool = False           # SIGKILL the monitor during the outage, start it again after
    breach_first: bool = False           # the breach starts, and is paged, before the outage
    own_responder: bool = False          # page from `slo-monitor respond` (the monitor has --no-responder)


CASES = {
    "60s": Outage(OUTAGE),
    "monitor-killed-during-outage": Outage(30.0, ("--snapshot-interval", "1"), kill_monitor=True, breach_first=True),
    "two-processes": Outage(30.0, ("--processes", "2", "--no-responder"), own_responder=True),
}


def _respond_command(bootstrap: str, alerts_topic: str, properties: Path) -> list[str]:
    return [sys.executable, "-m", "slo_monitor", "respond", "--config", str(SLO_FILE), "--bootstrap-servers",
            bootstrap, "--alerts-topic", alerts_topic, "--kafka-config-file", str(properties)]


def _wait_for_paging_to_settle(pagerduty: LocalEventsApi, process, bootstrap: str, alerts_topic: str,
                               quiet: float = 5.0) -> None:
    """Until every alert written has a paging decision, and PagerDuty has received something
    and then nothing more for `quiet` seconds."""
    seen = {"count": -1, "since": time.monotonic()}

    def settled() -> bool:
        count = len(pagerduty.requests())
        if count != seen["count"]:
            seen.update(count=count, since=time.monotonic())
        return (count > 0 and time.monotonic() - seen["since"] > quiet
                and not undecided_alerts(bootstrap, alerts_topic, ACTIONS_TOPIC))

    wait_for(settled, 120, "the responder to page", process)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_broker_stopped_mid_stream(own_broker, tmp_path, case):
    bootstrap = f"127.0.0.1:{own_broker}"
    inputs, outputs, reference = monitor_topics(), monitor_topics(), monitor_topics()
    junk_p, junk_l = junk_records("p1", 70), junk_records("l1", 35)
    _write(bootstrap, inputs, START, 2, seed=21, drop_after=HOUR if case.breach_first else 10 * HOUR)
    produce(bootstrap, inputs.predictions, junk_p)
    produce(bootstrap, inputs.labels, junk_l)
    extra = [*case.monitor_args, "--no-remediation"]
    if case.kill_monitor:
        extra += ["--recovery-dir", str(tmp_path / "recovery")]
    command = run_command(bootstrap, inputs, outputs, *extra)

    with LocalEventsApi() as pagerduty:
        env = {**pagerduty.env(), "PAGERDUTY_ROUTING_KEY": ROUTING_KEY}
        monitor, logs = start(command, env=env), []
        responder = None
        if case.own_responder:
            properties = tmp_path / "client.properties"
            properties.write_text("client.id=standalone-responder\n")
            responder = start(_respond_command(bootstrap, outputs.alerts, properties), env=env)
        try:
            wait_for(lambda: _evaluated_until(bootstrap, outputs.status) >= "2025-01-06T01:5", 180,
                     "the monitor to read the first two hours", monitor)
            if case.breach_first:
                _wait_for_paging_to_settle(pagerduty, monitor, bootstrap, outputs.alerts)
            stop_broker(own_broker)
            time.sleep(case.seconds)
            assert monitor.poll() is None, "the monitor died during the outage"
            assert responder is None or responder.poll() is None, "the responder died during the outage"
            if case.kill_monitor:
                monitor.kill()
                logs.append(monitor.communicate(timeout=60)[1])
            start_broker(own_broker)
            if case.kill_monitor:
                monitor = start(command, env=env)

            _write(bootstrap, inputs, START + 2 * HOUR, 2, seed=22, drop_after=0.0 if case.breach_first else 60.0)
            more_p = junk_records("p2", 14)
            produce(bootstrap, inputs.predictions, more_p)
            junk_p += more_p
            wait_for(lambda: _evaluated_until(bootstrap, outputs.status) >= "2025-01-06T03:5", 180,
                     "the monitor to resume after the broker came back", monitor)
            _wait_for_paging_to_settle(pagerduty, monitor, bootstrap, outputs.alerts)
        finally:
            for process in (monitor, responder):
                if process is not None and process.poll() is None:
                    process.send_signal(signal.SIGTERM)
        logs.append(finish(monitor))
        responder_log = finish(responder) if responder is not None else ""
        accepted = sum(r.status == 202 for r in pagerduty.requests())

    assert all(len(log) < 60_000 for log in logs), "the outage flooded the monitor's log"
    assert len(responder_log) < 20_000, "the outage flooded the responder's log"
    assert_dead_letters_once(bootstrap, inputs.predictions, junk_p)
    assert_dead_letters_once(bootstrap, inputs.labels, junk_l)
    assert_paged_once(bootstrap, outputs.alerts, ACTIONS_TOPIC, accepted)
    finish(start(run_command(bootstrap, inputs, reference, "--until-end", "--no-responder", "--no-remediation")))
    assert_counted_like_reference(bootstrap, outputs, reference)

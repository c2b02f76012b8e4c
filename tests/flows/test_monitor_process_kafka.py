"""The monitor as users run it: crash and resume, several processes, replay versus live."""

from __future__ import annotations

import re
import signal
import threading
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from simulator.kafka_writer import KafkaWriter
from simulator.runner import run_simulation
from simulator.scenarios import precision_drop
from simulator.streams import TrafficGenerator
from tests.flows.cli_monitor import (
    SLO_FILE,
    alert_sequence,
    alerts,
    finish,
    last_status_per_key,
    run_command,
    start,
    wait_for,
)
from tests.flows.monitor_support import FAST_LABELS, HOUR, START, monitor_topics, write_traffic
from tests.kafka_support import read_all

pytestmark = pytest.mark.kafka

DROP = precision_drop(FAST_LABELS, change_at=5 * HOUR, precision_after=0.85, recover_at=8 * HOUR)


def test_killed_and_restarted_monitor_counts_like_an_uninterrupted_one(kafka_bootstrap, tmp_path):
    inputs = monitor_topics()
    write_traffic(kafka_bootstrap, inputs, DROP, hours=24, rate=8000, partitions=4)
    reference, crashed = monitor_topics(), monitor_topics()
    finish(start(run_command(kafka_bootstrap, inputs, reference, "--until-end")))

    command = run_command(kafka_bootstrap, inputs, crashed, "--until-end", "--recovery-dir", str(tmp_path / "rec"),
                          "--snapshot-interval", "1")
    first = start(command)
    wait_for(lambda: len(read_all(kafka_bootstrap, crashed.status)) > 2000, 120, "some status records", first)
    first.send_signal(signal.SIGKILL)
    first.wait()
    written_before_crash = len(read_all(kafka_bootstrap, crashed.status))
    finish(start(command))

    assert last_status_per_key(kafka_bootstrap, crashed.status) == last_status_per_key(kafka_bootstrap, reference.status)
    crashed_alerts = alerts(kafka_bootstrap, crashed.alerts)
    assert alert_sequence(crashed_alerts) == alert_sequence(alerts(kafka_bootstrap, reference.alerts))
    assert any(r["severity"] == "critical" for r in crashed_alerts)
    identities = [(r["alert_id"], r["action"], r["severity"]) for r in crashed_alerts]
    assert len(identities) == len(set(identities)), "an alert was written twice"
    assert written_before_crash < len(read_all(kafka_bootstrap, reference.status)), "the crash came too late"


def test_two_processes_over_four_partitions_alert_like_one(kafka_bootstrap):
    inputs = monitor_topics()
    write_traffic(kafka_bootstrap, inputs, DROP, hours=12, rate=8000, partitions=4)
    single, double = monitor_topics(), monitor_topics()
    finish(start(run_command(kafka_bootstrap, inputs, single, "--until-end")))
    stderr = finish(start(run_command(kafka_bootstrap, inputs, double, "--until-end", "--processes", "2")))
    assert "process 0:" in stderr and "process 1:" in stderr
    one = alert_sequence(alerts(kafka_bootstrap, single.alerts))
    assert one and one == alert_sequence(alerts(kafka_bootstrap, double.alerts))
    assert last_status_per_key(kafka_bootstrap, single.status) == last_status_per_key(kafka_bootstrap, double.status)


def test_a_recovery_store_of_two_processes_resumes_in_one(kafka_bootstrap, tmp_path):
    # Every stateful step's saved state must find an owner in the smaller cluster, the output
    # sinks' partitions too (Bytewax refuses to start otherwise).
    inputs = monitor_topics()
    write_traffic(kafka_bootstrap, inputs, DROP, hours=24, rate=8000, partitions=4)
    reference, resumed = monitor_topics(), monitor_topics()
    finish(start(run_command(kafka_bootstrap, inputs, reference, "--until-end")))
    recovery = ("--recovery-dir", str(tmp_path / "rec"), "--snapshot-interval", "1")
    two = start(run_command(kafka_bootstrap, inputs, resumed, "--until-end", "--processes", "2", *recovery))
    wait_for(lambda: len(read_all(kafka_bootstrap, resumed.status)) > 2000, 120, "some status records", two)
    two.send_signal(signal.SIGTERM)
    finish(two)
    written_by_two = len(read_all(kafka_bootstrap, resumed.status))
    finish(start(run_command(kafka_bootstrap, inputs, resumed, "--until-end", *recovery)))

    assert written_by_two < len(read_all(kafka_bootstrap, reference.status)), "the stop came too late"
    assert last_status_per_key(kafka_bootstrap, resumed.status) == last_status_per_key(kafka_bootstrap, reference.status)
    assert alert_sequence(alerts(kafka_bootstrap, resumed.alerts)) == alert_sequence(alerts(kafka_bootstrap, reference.alerts))


def test_an_slo_redefined_across_a_restart_resolves_its_open_alerts(kafka_bootstrap, tmp_path):
    inputs, outputs = monitor_topics(), monitor_topics()
    breach = precision_drop(FAST_LABELS, change_at=5 * HOUR, precision_after=0.85)   # no recovery
    write_traffic(kafka_bootstrap, inputs, breach, hours=8, rate=8000, partitions=4)
    recovery = ("--recovery-dir", str(tmp_path / "rec"), "--snapshot-interval", "1")
    finish(start(run_command(kafka_bootstrap, inputs, outputs, "--until-end", *recovery)))
    before = alerts(kafka_bootstrap, outputs.alerts)
    resolved = {r["alert_id"] for r in before if r["action"] == "resolve"}
    still_open = {r["alert_id"] for r in before} - resolved
    assert still_open, "the breach must leave alerts open"

    redefined = tmp_path / "slos.yaml"
    redefined.write_text(SLO_FILE.read_text().replace("objective: 0.95", "objective: 0.96"))
    stderr = finish(start(run_command(kafka_bootstrap, inputs, outputs, "--until-end", *recovery,
                                      "--config", str(redefined))))

    assert "defined differently" in stderr and "objective 0.95 -> 0.96" in stderr
    seen = {(r["alert_id"], r["action"]) for r in before}
    new = [r for r in alerts(kafka_bootstrap, outputs.alerts) if (r["alert_id"], r["action"]) not in seen]
    assert sorted(r["alert_id"] for r in new) == sorted(still_open)   # each open alert resolved once
    assert all(r["action"] == "resolve" and "redefined (objective 0.95 -> 0.96)" in r["reason"] for r in new)


def test_replay_of_recorded_days_alerts_like_the_live_run(kafka_bootstrap):
    """Live: the monitor runs while traffic is produced. Replay: it reads the recorded topics."""
    inputs, live, replay = monitor_topics(), monitor_topics(), monitor_topics()
    write_traffic(kafka_bootstrap, inputs, DROP, hours=0.01, rate=10)  # creates the topics
    monitor = start(run_command(kafka_bootstrap, inputs, live, "--metrics-port", "19480"))
    generator = TrafficGenerator(DROP, start=START + HOUR, duration=48 * HOUR, rate_per_hour=6000, seed=5)
    writer = threading.Thread(target=run_simulation, args=(generator, KafkaWriter(kafka_bootstrap, inputs.predictions, inputs.labels)))
    writer.start()
    wait_for(lambda: _evaluated_until(19480) >= START + 48.9 * HOUR, 300, "the live run to catch up", monitor)
    writer.join()
    scraped = urllib.request.urlopen("http://127.0.0.1:19480/metrics", timeout=10).read().decode()
    monitor.send_signal(signal.SIGTERM)
    finish(monitor)
    finish(start(run_command(kafka_bootstrap, inputs, replay, "--until-end")))

    live_alerts = alert_sequence(alerts(kafka_bootstrap, live.alerts))
    assert live_alerts and live_alerts == alert_sequence(alerts(kafka_bootstrap, replay.alerts))
    # The gauges scraped during the live run equal the last status record of the key.
    latest = last_status_per_key(kafka_bootstrap, live.status)["fraud-precision/fraud-detector"]
    key = {"slo": "fraud-precision", "model_id": "fraud-detector", "segment": ""}
    assert _gauge(scraped, "slo_monitor_slo_estimate", key) == pytest.approx(latest["estimate"])
    assert _gauge(scraped, "slo_monitor_slo_lower_bound", key) == pytest.approx(latest["lower"])
    assert _gauge(scraped, "slo_monitor_slo_upper_bound", key) == pytest.approx(latest["upper"])
    assert _gauge(scraped, "slo_monitor_slo_labels_in_window", key) == latest["labels"]
    assert _gauge(scraped, "slo_monitor_slo_state", {**key, "state": latest["state"]}) == 1.0


def _evaluated_until(port: int) -> float:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError:
        return 0.0
    values = re.findall(r'^slo_monitor_slo_evaluated_event_time_seconds\{[^}]*segment=""[^}]*\} (\S+)$', text, re.M)
    return float(values[0]) if values else 0.0


def _gauge(text: str, name: str, labels: dict[str, str]) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    raise AssertionError(f"{name}{labels} not in the scrape")

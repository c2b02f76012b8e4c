"""The command line as a user runs it: real subprocesses, the real broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson
import pytest
from confluent_kafka.admin import AdminClient

from tests.kafka_support import produce, read_json, unique_topic

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "slos.yaml"
CONTRACT_EXAMPLE = (REPO / "examples" / "slos.yaml").read_text()


def cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "slo_monitor", *args], capture_output=True, text=True, timeout=120, **kwargs
    )


def test_validate_accepts_the_contract_example():
    result = cli("validate", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "valid: 1 SLO(s): fraud-precision" in result.stdout


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("objective: 0.95", "objective: 1.5"), ["slos.yaml:8", "objective"]),
        (("metric: precision ", "metric: accuracy "), ["slos.yaml:6", "metric"]),
        (("window: 1h", "window: 1 hour"), ["slos.yaml:9", "window"]),
        (("    min_labels: 30", "    min_labelz: 30"), ["slos.yaml:10", "min_labelz"]),
        (("  - name: fraud-precision", "  - name: Fraud_Precision"), ["slos.yaml:4", "name"]),
        (("    model_id: fraud-detector\n", ""), ["model_id"]),
        (("segments: [country]", "segments: [country"), ["slos.yaml:"]),
        (("critical: [rollback,", "critical: [reboot,"), ["slos.yaml:13", "reboot"]),
    ],
)
def test_validate_rejects_a_bad_file_naming_line_and_problem(tmp_path, edit, expected):
    old, new = edit
    assert old in CONTRACT_EXAMPLE
    bad = tmp_path / "slos.yaml"
    bad.write_text(CONTRACT_EXAMPLE.replace(old, new, 1))
    result = cli("validate", str(bad))
    assert result.returncode != 0
    for fragment in expected:
        assert fragment in result.stderr, result.stderr


def test_validate_reports_a_missing_file():
    result = cli("validate", "/nonexistent/slos.yaml")
    assert result.returncode != 0 and "slos.yaml" in result.stderr


@pytest.mark.kafka
def test_run_creates_topics_serves_metrics_and_stops_cleanly_on_sigterm(kafka_bootstrap):
    stem = unique_topic("cli")
    topics = {"predictions": f"{stem}-p", "labels": f"{stem}-l", "joined": f"{stem}-j"}
    port = 19464
    command = [
        sys.executable, "-m", "slo_monitor", "run", "--config", str(EXAMPLE),
        "--bootstrap-servers", kafka_bootstrap, "--metrics-port", str(port), "--partitions", "2",
        *(f"--{name}-topic={topic}" for name, topic in topics.items()),
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
        wanted = {topics["predictions"], topics["labels"], topics["joined"], f"{topics['predictions']}.dlq"}
        deadline = time.monotonic() + 60
        while not wanted <= set(admin.list_topics(timeout=10).topics):
            assert process.poll() is None and time.monotonic() < deadline, "topics were not created"
            time.sleep(0.5)
        prediction = {"prediction_id": "a1", "model_id": "fraud-detector", "timestamp": 1790000000, "predicted_label": 1}
        produce(kafka_bootstrap, topics["predictions"], [(b"a1", orjson.dumps(prediction)), (b"x", b"junk")])
        produce(kafka_bootstrap, topics["labels"], [(b"a1", orjson.dumps({"prediction_id": "a1", "label": 1, "timestamp": 1790000100}))])
        joined = []
        while not joined:
            assert time.monotonic() < deadline, "nothing was joined"
            joined = read_json(kafka_bootstrap, topics["joined"])
            time.sleep(0.5)
        assert joined[0]["prediction_id"] == "a1"
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        assert f'slo_monitor_dead_lettered_total{{topic="{topics["predictions"]}"}} 1.0' in metrics
        assert 'slo_monitor_join_outcomes_total{outcome="joined"} 1.0' in metrics
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert f"consuming {topics['predictions']!r} and {topics['labels']!r}" in stderr
    assert f"metrics at http://127.0.0.1:{port}/metrics" in stderr
    assert "SIGTERM received, stopping" in stderr and "stopped" in stderr
    assert "panicked" not in stderr


def test_run_rejects_a_bad_slo_file_before_touching_kafka(tmp_path):
    bad = tmp_path / "slos.yaml"
    bad.write_text(CONTRACT_EXAMPLE.replace("objective: 0.95", "objective: 2"))
    result = cli("run", "--config", str(bad), "--bootstrap-servers", "127.0.0.1:1")
    assert result.returncode == 2 and "objective" in result.stderr

"""Run `slo-monitor run` as a real process against topics of a test."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson

from flows.settings import Topics
from tests.kafka_support import read_all

SLO_FILE = Path(__file__).resolve().parents[2] / "examples" / "slos.yaml"


def run_command(bootstrap: str, inputs: Topics, outputs: Topics, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "slo_monitor", "run", "--config", str(SLO_FILE), "--bootstrap-servers", bootstrap,
        "--metrics-port", "0", "--shards", "4",
        "--predictions-topic", inputs.predictions, "--labels-topic", inputs.labels,
        "--joined-topic", outputs.joined, "--status-topic", outputs.status, "--alerts-topic", outputs.alerts,
        *extra,
    ]


def start(command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"})


def finish(process: subprocess.Popen, timeout: float = 300) -> str:
    _, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stderr[-3000:]
    return stderr


def alerts(bootstrap: str, topic: str) -> list[dict]:
    return [orjson.loads(value) for _, value in read_all(bootstrap, topic)]


def alert_sequence(records: list[dict]) -> list[tuple]:
    """Alerts in a comparable order: per key by event time (keys are independent)."""
    return sorted((r["dedup_key"], r["event_time"], r["action"], r["severity"], r["alert_id"]) for r in records)


def last_status_per_key(bootstrap: str, topic: str) -> dict[str, dict]:
    latest: dict[str, dict] = {}
    for key, value in read_all(bootstrap, topic):
        record = orjson.loads(value)
        if key.decode() not in latest or record["event_time"] >= latest[key.decode()]["event_time"]:
            latest[key.decode()] = record
    return latest


def wait_for(condition, timeout: float, what: str, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"monitor exited while waiting for {what}: {process.communicate()[1][-3000:]}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)

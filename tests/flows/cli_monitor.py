"""Run `slo-monitor run` as a real process against topics of a test."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
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


class DrainedPipe:
    """A child's output pipe, read by a thread as the child writes, so the pipe never fills.

    A pipe that nobody reads blocks the child's next write once 64 KB are waiting; librdkafka's
    broker threads then stall for good (tests/reliability/test_broker_restart.py). `readline`
    blocks like a pipe's and returns "" at the end; `text` is everything written so far.
    """

    def __init__(self, pipe) -> None:
        self._lines: list[str] = []
        self._next = 0
        self._ended = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._drain, args=(pipe,), daemon=True)
        self._thread.start()

    def _drain(self, pipe) -> None:
        for line in pipe:
            with self._changed:
                self._lines.append(line)
                self._changed.notify_all()
        pipe.close()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def readline(self) -> str:
        with self._changed:
            self._changed.wait_for(lambda: self._next < len(self._lines) or self._ended)
            if self._next < len(self._lines):
                self._next += 1
                return self._lines[self._next - 1]
            return ""

    def text(self) -> str:
        with self._changed:
            return "".join(self._lines)

    def wait_end(self, timeout: float | None = None) -> str:
        """Everything the child wrote, once the pipe is closed (all writers exited)."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise subprocess.TimeoutExpired("output pipe", timeout)
        return self.text()

    def close(self) -> None:
        pass  # the draining thread closes the pipe at its end


class MonitorProcess(subprocess.Popen):
    """`Popen` whose stdout and stderr are drained as they come (see `DrainedPipe`);
    `communicate` returns the whole of both once the process has exited."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        super().__init__(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.stdout = DrainedPipe(self.stdout)
        self.stderr = DrainedPipe(self.stderr)

    def communicate(self, input=None, timeout: float | None = None) -> tuple[str, str]:
        assert input is None, "the monitor reads no input"
        self.wait(timeout)
        return self.stdout.wait_end(timeout), self.stderr.wait_end(timeout)


def start(command: list[str], env: dict[str, str] | None = None) -> MonitorProcess:
    return MonitorProcess(command, env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"})


def finish(process: MonitorProcess, timeout: float = 300) -> str:
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


def wait_for(condition, timeout: float, what: str, process: MonitorProcess | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"monitor exited while waiting for {what}: {process.communicate()[1][-3000:]}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)

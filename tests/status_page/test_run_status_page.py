"""`slo-monitor run` serves the status page from process 0 and prints its URL; `--no-status-page`
serves none."""

from __future__ import annotations

import re
import signal
import threading
import time
import urllib.request

import orjson
import pytest

from flows.settings import Topics
from tests.flows.cli_monitor import run_command, start
from tests.kafka_support import produce, unique_topic
from tests.status_page.records import status_records

pytestmark = pytest.mark.kafka


def _topics() -> Topics:
    return Topics(**{name: unique_topic(f"sprun-{name}") for name in Topics().__dict__})


def _stderr_lines(process) -> list[str]:
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(process.stderr.readline, "")), daemon=True).start()
    return lines


def _wait_line(lines: list[str], pattern: str, process, timeout: float = 120) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in list(lines):
            if match := re.search(pattern, line):
                return match
        assert process.poll() is None, "".join(lines)[-3000:]
        time.sleep(0.2)
    raise AssertionError(f"no line like {pattern!r}: {''.join(lines)[-3000:]}")


def test_run_serves_the_status_page_of_its_topics(kafka_bootstrap):
    topics = _topics()
    process = start(run_command(kafka_bootstrap, topics, topics, "--status-port", "0", "--no-remediation"))
    lines = _stderr_lines(process)
    try:
        url = _wait_line(lines, r"status page at (http://127\.0\.0\.1:\d+/)", process).group(1)
        produce(kafka_bootstrap, topics.status, [(b"k", orjson.dumps(r)) for r in status_records(minutes=5)])
        deadline = time.monotonic() + 60
        while True:
            with urllib.request.urlopen(url + "api/status", timeout=10) as response:
                view = orjson.loads(response.read())
            if view["counts"].get("status", 0) >= 15 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert len(view["slos"]) == 3 and view["counts"]["status"] == 15
        with urllib.request.urlopen(url + "healthz", timeout=10) as response:
            assert orjson.loads(response.read())["status"] == "ok"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(120)
    assert process.returncode == 0, "".join(lines)[-3000:]


def test_no_status_page_flag(kafka_bootstrap):
    topics = _topics()
    process = start(run_command(kafka_bootstrap, topics, topics, "--no-status-page", "--no-remediation",
                                "--no-responder"))
    lines = _stderr_lines(process)
    try:
        _wait_line(lines, r"SLO\(s\) from", process)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(120)
    assert process.returncode == 0 and not any("status page" in line for line in lines)


def test_a_taken_status_port_leaves_the_monitor_running(kafka_bootstrap):
    import socket

    topics = _topics()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = start(run_command(kafka_bootstrap, topics, topics, "--status-port", str(port), "--no-remediation",
                                    "--no-responder"))
        lines = _stderr_lines(process)
        try:
            _wait_line(lines, rf"no status page: cannot serve on 127\.0\.0\.1:{port}", process)
            _wait_line(lines, r"SLO\(s\) from", process)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(120)
    assert process.returncode == 0, "".join(lines)[-3000:]

"""Topic set-up at start: an unreachable broker is one clear line, not librdkafka's flood."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.kafka_support import free_port

REPO = Path(__file__).resolve().parents[2]


def test_run_against_no_broker_says_so_in_a_few_lines_and_exits_3():
    address = f"127.0.0.1:{free_port()}"
    result = subprocess.run(
        [sys.executable, "-m", "slo_monitor", "run", "--config", str(REPO / "examples" / "slos.yaml"),
         "--bootstrap-servers", address, "--metrics-port", "0", "--no-status-page"],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    assert result.returncode == 3, result.stderr[-2000:]
    lines = result.stderr.splitlines()
    assert lines[-1].startswith(f"slo-monitor: cannot reach Kafka at {address}: "), lines[-5:]
    # librdkafka retries ~20 times a second for the 15 s of the metadata request: ~300 lines
    # when it writes to stderr itself, a few when Python logging collapses the repeats.
    assert len(lines) <= 10, f"{len(lines)} lines on stderr:\n" + "\n".join(lines[:20])
    assert any("Connection refused" in line for line in lines), "the reason is still in the log"

"""`slo-monitor demo` end to end (reduced duration): Kafka, a real MLflow server, the local
PagerDuty receiver, monitor, responder and executor. It pages once, rolls back once (read back
from MLflow) and prints the summary."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.kafka_support import REPO

pytestmark = pytest.mark.kafka


def test_demo_pages_once_rolls_back_once_and_summarises(kafka_bootstrap, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "slo_monitor", "demo", "--hours", "4", "--workdir", str(tmp_path),
         "--bootstrap-servers", kafka_bootstrap],
        cwd=REPO, capture_output=True, text=True, timeout=540, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    out = done.stdout
    assert done.returncode == 0, (out + done.stderr)[-4000:]
    summary = out[out.index("=== summary ==="):]
    # the live view degraded to plain lines (stdout is a pipe): hourly lines and the alert
    assert re.search(r"^  \+ 1\.0h \( 25%\) fraud-precision/fraud-detector 0\.9\d\d ", out, re.M)
    assert re.search(r"^  alert  \S+ trigger critical fraud-precision/fraud-detector: ", out, re.M)
    # one page, critical, at the alert's event time
    assert "paged (local PagerDuty): 1 incident(s)" in summary
    assert re.search(r"incident #1 fraud-precision/fraud-detector: severity critical, triggered, events trigger, "
                     r"at event time 2025-01-06T0[2-3]:\d\d:00Z", summary)
    # one rollback, read back from MLflow, and its PagerDuty change event
    assert summary.count("rollback: done (playbook)") == 1
    assert "rollback: MLflow says fraud-detector@champion -> version 1 (was 2); its tag: from 2 to 1, state done" in summary
    assert summary.count("PagerDuty change event: Rolled back fraud-detector@champion from version 2 to 1") == 1
    # the report: a path when the report action wrote one, otherwise said plainly, never invented
    report = re.search(r"^report: (.*)$", summary, re.M).group(1)
    if report.startswith("none was written"):
        assert "diagnostic_report: " in summary and "diagnostic_report: done" not in summary
    else:
        assert (tmp_path / report).exists() or os.path.exists(report)
    assert re.search(r"^status page: http://127\.0\.0\.1:\d+/ ", summary, re.M)

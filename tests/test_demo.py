"""`slo-monitor demo` end to end (reduced duration): Kafka, a real MLflow server, the local
PagerDuty receiver, monitor, responder and executor, with live traffic that follows the
remediation. It pages once, rolls back once (read back from MLflow), the traffic switches to the
rolled-back version, the alert and the incident resolve, and the summary says so."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kafka_support import REPO

pytestmark = pytest.mark.kafka


def test_demo_pages_once_rolls_back_once_recovers_and_summarises(kafka_bootstrap, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "slo_monitor", "demo", "--hours", "7", "--change-at", "2", "--workdir", str(tmp_path),
         "--bootstrap-servers", kafka_bootstrap],
        cwd=REPO, capture_output=True, text=True, timeout=540, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    out = done.stdout
    assert done.returncode == 0, (out + done.stderr)[-4000:]
    summary = out[out.index("=== summary ===") :]
    # the live view degraded to plain lines (stdout is a pipe): hourly lines and the alert
    assert re.search(r"^  \+ 1\.0h \( 14%\) fraud-precision/fraud-detector 0\.9\d\d ", out, re.M)
    assert re.search(r"^  alert  \S+ trigger critical fraud-precision/fraud-detector: ", out, re.M)
    # one page, critical, at the alert's event time, resolved by the monitor once the rollback took
    assert "paged (local PagerDuty): 1 incident(s)" in summary
    assert re.search(r"incident #1 fraud-precision/fraud-detector: severity critical, resolved, "
                     r"events trigger -> resolve, at event time 2025-01-06T0[2-3]:\d\d:00Z", summary), summary
    assert re.search(r"^  \S+  resolve  critical fraud-precision/fraud-detector: precision back at 0\.9\d+", summary,
                     re.M), summary
    # one rollback, read back from MLflow, and its PagerDuty change event
    assert summary.count("rollback: done (playbook)") == 1
    assert "rollback: MLflow says fraud-detector@champion -> version 1 (was 2); its tag: from 2 to 1, state done" in summary
    assert summary.count("PagerDuty change event: Rolled back fraud-detector@champion from version 2 to 1") == 1
    # the traffic followed the model-control record: version 1 served again, the last hours ok
    served = re.search(r"the traffic followed it \(model-control\): version 1 serves again from "
                       r"2025-01-06T(\d\d):\d\d:00Z", summary)
    assert served and 2 <= int(served.group(1)) <= 4, summary
    hours = re.findall(r"^  2025-01-06T0(\d):01:00Z .* (\w+)\s+version (\d)$", summary, re.M)
    after = [(state, version) for hour, state, version in hours if int(hour) >= int(served.group(1)) + 2]
    assert after and all(state in ("ok", "at_risk") and version == "1" for state, version in after), hours
    # the report, written by the executor from the monitor's summary; its verdict names the cause
    report = Path(re.search(r"^report: (.*)$", summary, re.M).group(1))
    report = report if report.is_absolute() else tmp_path / report
    assert report.suffix == ".html" and report.exists(), summary
    data = json.loads(report.with_suffix(".json").read_text())
    assert data["triage"]["verdict"] == "version_regression", data["triage"]
    assert re.search(r"^status page: http://127\.0\.0\.1:\d+/ ", summary, re.M)

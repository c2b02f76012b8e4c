"""`slo-monitor run` refuses a bad paging or remediation config before anything starts: one line
naming the file, line and key, exit 2, no Kafka contacted (the broker address here is closed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.kafka_support import free_port

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("option, text, after_path", [
    ("--paging-config", "routing:\n  slos:\n    fraud-precison: {env: X}\n",
     ": routing.slos.fraud-precison: no SLO named 'fraud-precison' in the SLO file (did you mean 'fraud-precision'?)"),
    ("--remediation-config", "defaults:\n  dry_run: true\n  dry_run: false\n",
     ":3: defaults.dry_run: duplicate key (first given at line 2)"),
])
def test_run_refuses_a_bad_service_config_before_anything_starts(tmp_path, option, text, after_path):
    config = tmp_path / "cfg.yaml"
    config.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "slo_monitor", "run", "--config", str(REPO / "examples" / "slos.yaml"), option,
         str(config), "--bootstrap-servers", f"127.0.0.1:{free_port()}", "--metrics-port", "0", "--no-status-page"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == [f"slo-monitor: {config}{after_path}"]

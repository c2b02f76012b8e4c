"""`slo-monitor remediate` (remediation/executor_cli.py): arguments, configuration errors, and a
clean stop on SIGTERM as a separate process."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.kafka_clients import KAFKA_LOG
from remediation import executor_cli
from tests.kafka_support import REPO, unique_topic
from tests.remediation.support import create_topic

SLO_FILE = """
slos:
  - name: fraud-precision
    model_id: fraud-detector
    metric: precision
    positive_label: 1
    objective: 0.95
    remediation:
      critical: [rollback, raise_review_sampling]
pagerduty:
  routing_key_env: PD_KEY
"""


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    executor_cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_arguments_become_settings(tmp_path: Path):
    slos = tmp_path / "slos.yaml"
    slos.write_text(SLO_FILE)
    remediation = tmp_path / "remediation.yaml"
    remediation.write_text("slos:\n  fraud-precision:\n    rollback: {min_labels: 50}\n")
    args = parse("--config", str(slos), "--remediation-config", str(remediation), "--approval-only",
                 "--tracking-uri", "http://127.0.0.1:5000", "--group-id", "g", "--give-up-after", "30",
                 "--kafka-config", "client.id=x", "--events-url", "https://127.0.0.1:8443/v2/enqueue")
    s = executor_cli.settings_from_args(args, environ={"PD_KEY": "k" * 32})
    assert (s.tracking_uri, s.group_id, s.give_up_after, dict(s.kafka_config)) == (
        "http://127.0.0.1:5000", "g", 30.0, {"client.id": "x", "logger": KAFKA_LOG})  # logs rate-limited
    assert s.events_url == "https://127.0.0.1:8443"
    assert s.routing.default.env == "PD_KEY"                       # the SLO file names the key variable
    assert s.playbooks.spec.slos["fraud-precision"].approval_only
    assert s.playbooks.slo_actions["fraud-precision"]["critical"] == ("rollback", "raise_review_sampling")


def test_bad_remediation_config_exits_2_naming_the_problem(tmp_path: Path, capsys):
    slos = tmp_path / "slos.yaml"
    slos.write_text(SLO_FILE)
    bad = tmp_path / "remediation.yaml"
    bad.write_text("slos:\n  fraud-precison: {}\n")
    assert executor_cli.run(parse("--config", str(slos), "--remediation-config", str(bad))) == 2
    assert capsys.readouterr().err.strip() == (
        f"slo-monitor remediate: {bad}: slos.fraud-precison: no SLO of that name in the SLO file "
        "(did you mean 'fraud-precision'?)")


@pytest.mark.kafka
def test_runs_as_a_process_and_stops_cleanly_on_sigterm(kafka_bootstrap, tmp_path: Path):
    alerts = create_topic(kafka_bootstrap, "alerts")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    process = subprocess.Popen(
        [sys.executable, "-m", "remediation.executor_cli", "--bootstrap-servers", kafka_bootstrap,
         "--alerts-topic", alerts, "--actions-topic", unique_topic("actions"),
         "--review-sampling-topic", unique_topic("sampling"), "--model-control-topic", unique_topic("control"),
         "--group-id", f"cli-{alerts}"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        lines = []
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if "assigned" in line or not line:        # ready, or the process ended
                break
        assert any("assigned" in line for line in lines), "".join(lines)
        assert any("registry none (MLFLOW_TRACKING_URI not set: no rollbacks)" in line for line in lines)
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "SIGTERM received, stopping" in rest and "executor stopped (nothing done)" in rest

"""`slo-monitor respond` arguments: settings built from them, and configuration errors as exit 2."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from flows.kafka_clients import KAFKA_LOG
from remediation import executor_cli
from remediation.responder_cli import add_arguments, main, settings_from_args
from remediation.routing_keys import RoutingKeys
from tests.kafka_support import REPO
from tests.remediation.support import KEY, OTHER_KEY


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_arguments_become_settings(tmp_path: Path, monkeypatch) -> None:
    slo_file = tmp_path / "slos.yaml"
    slo_file.write_text((REPO / "examples/slos.yaml").read_text().replace("PAGERDUTY_ROUTING_KEY", "FRAUD_PD_KEY"))
    monkeypatch.setenv("FRAUD_PD_KEY", KEY)
    monkeypatch.setenv("FRAUD_PD_KEY_CRITICAL", OTHER_KEY)
    monkeypatch.setenv("PAGERDUTY_EVENTS_URL", "https://127.0.0.1:8443/v2/enqueue")
    args = parse("--config", str(slo_file), "--alerts-topic", "a", "--http-retries", "3", "--backoff-max", "5",
                 "--rate-limit-per-minute", "0", "--kafka-config", "session.timeout.ms=6000",
                 "--events-url", "https://127.0.0.1:8443/v2/enqueue", "--dashboard-url", "https://d/{slo}")
    settings = settings_from_args(args)
    keys = RoutingKeys(settings.routing)
    assert keys.key(keys.target_for("fraud-precision", "warning")) == KEY
    assert keys.key(keys.target_for("fraud-precision", "critical")) == OTHER_KEY
    assert settings.alerts_topic == "a" and settings.actions_topic == "remediation-actions"
    assert settings.http_retry.retries == 3 and settings.backoff.maximum == 5
    assert settings.rate_limit_per_minute is None
    assert settings.kafka_config == {"session.timeout.ms": "6000", "logger": KAFKA_LOG}  # rate-limited logs
    assert settings.events_url == "https://127.0.0.1:8443" and settings.links.dashboard == "https://d/{slo}"


@pytest.mark.parametrize("command", ["respond", "remediate"])
def test_kafka_settings_come_from_a_file_options_and_secret_variables_as_for_run(command, tmp_path: Path,
                                                                                monkeypatch) -> None:
    properties = tmp_path / "client.properties"
    properties.write_text("# mounted from a secret\nsecurity.protocol=SASL_SSL\nsasl.username=svc\nclient.id=file\n")
    password = tmp_path / "sasl-password"
    password.write_text("pa55-from-file\n")
    monkeypatch.setenv("KAFKA_CONFIG_FILE", str(properties))
    environ = {"KAFKA_SASL_PASSWORD_FILE": str(password), "KAFKA_SASL_PASSWORD": "loses-to-the-file"}
    module = executor_cli if command == "remediate" else None
    parser = argparse.ArgumentParser()
    (module.add_arguments if module else add_arguments)(parser)
    args = parser.parse_args(["--kafka-config", "client.id=option"])
    settings = (module.settings_from_args if module else settings_from_args)(args, environ=environ)
    assert dict(settings.kafka_config) == {"security.protocol": "SASL_SSL", "sasl.username": "svc",
                                           "client.id": "option", "sasl.password": "pa55-from-file",
                                           "logger": KAFKA_LOG}


@pytest.mark.parametrize("argv, message", [
    (["--events-url", "http://127.0.0.1:8080"], "must start with https://"),
    (["--kafka-config-file", "/nonexistent/client.properties"], "No such file"),
    (["--http-retries", "0"], "at least 1"),
    (["--config", "/nonexistent/slos.yaml"], "cannot read"),
    (["--kafka-config", "novalue"], "KEY=VALUE"),
])
def test_configuration_errors_exit_2_with_one_clear_line(argv, message, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("slo-monitor respond: ") and message in err


def test_a_bad_paging_config_exits_2(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "paging.yaml"
    bad.write_text("routing: {tiers: {sev1: {env: X}}}\n")
    assert main(["--paging-config", str(bad)]) == 2
    assert "unknown tier" in capsys.readouterr().err

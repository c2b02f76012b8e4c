"""Secrets from files (Docker/Kubernetes secrets): `<VARIABLE>_FILE` names the file, the file
wins over the variable, and an unreadable file stops the command with a message naming the
file, never its content. End to end (SASL_SSL, paging, MLflow): tests/reliability/test_security.py."""

from __future__ import annotations

import pytest

from flows.secret_files import SecretFileError
from remediation.executor import Executor, ExecutorSettings
from remediation.model_registry import load_credential_files
from slo_monitor.cli import build_parser
from slo_monitor.run import run_monitor
from tests.flows.cli_monitor import SLO_FILE

SECRET = "s3cret-in-a-file-0123"


def test_mlflow_credentials_come_from_files_and_the_file_wins(tmp_path):
    for name, value in {"username": "monitor", "password": SECRET, "token": "t0ken-from-file"}.items():
        (tmp_path / name).write_text(value + "\n")
    environ = {"MLFLOW_TRACKING_PASSWORD": "loses-to-the-file",
               **{f"MLFLOW_TRACKING_{name.upper()}_FILE": str(tmp_path / name)
                  for name in ("username", "password", "token")}}
    assert load_credential_files(environ) == [SECRET, "t0ken-from-file"]
    assert (environ["MLFLOW_TRACKING_USERNAME"], environ["MLFLOW_TRACKING_PASSWORD"]) == ("monitor", SECRET)


@pytest.mark.parametrize("content", [None, b"\xff\xfe" + SECRET.encode()])  # missing; not UTF-8
def test_an_unreadable_secret_file_is_named_and_its_content_never_shown(tmp_path, content):
    path = tmp_path / "mlflow-password"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SecretFileError) as error:
        load_credential_files({"MLFLOW_TRACKING_PASSWORD_FILE": str(path)})
    assert str(path) in str(error.value) and SECRET not in str(error.value)


def test_the_executor_redacts_the_mlflow_password_read_from_a_file(tmp_path, monkeypatch):
    (tmp_path / "password").write_text(SECRET + "\n")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "replaced-by-the-file")  # restored afterwards
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD_FILE", str(tmp_path / "password"))
    executor = Executor(ExecutorSettings(tracking_uri="http://127.0.0.1:9", reports_dir=None), environ={})
    assert SECRET in executor.secrets()


@pytest.mark.parametrize("variable", ["KAFKA_SASL_PASSWORD_FILE", "PAGERDUTY_ROUTING_KEY_FILE"])
def test_remediate_and_run_refuse_an_unreadable_secret_file_with_exit_2(variable, tmp_path, monkeypatch, capsys):
    from remediation import executor_cli

    missing = tmp_path / "not-mounted"
    monkeypatch.setenv(variable, str(missing))
    assert executor_cli.main(["--bootstrap-servers", "127.0.0.1:9"]) == 2
    assert capsys.readouterr().err.startswith("slo-monitor remediate: cannot read")
    if variable.startswith("KAFKA"):  # `run` checks its Kafka settings before it starts anything
        assert run_monitor(build_parser().parse_args(["run", "--config", str(SLO_FILE)])) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"slo-monitor: cannot read {variable}'s secret from file {missing}"), err


def test_run_refuses_an_unreadable_routing_key_file_with_exit_2(kafka_bootstrap, tmp_path, monkeypatch, capsys):
    # The responder reads its keys as it starts: `run` stops there with one line, not a traceback.
    from tests.kafka_support import unique_topic

    missing = tmp_path / "not-mounted"
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY_FILE", str(missing))
    stem = unique_topic("secret-file")
    args = build_parser().parse_args([
        "run", "--config", str(SLO_FILE), "--bootstrap-servers", kafka_bootstrap, "--until-end",
        "--no-remediation", "--no-status-page", "--metrics-port", "0",
        *(option for name in ("predictions", "labels", "status", "alerts", "joined", "diagnostics")
          for option in (f"--{name}-topic", f"{stem}-{name}")),
    ])
    assert run_monitor(args) == 2
    err = capsys.readouterr().err
    assert f"slo-monitor: cannot read routing key from file {missing}: No such file or directory" in err, err
    assert "Traceback" not in err

"""`slo-monitor demo-model` against a real MLflow server: Docker Compose's demo profile runs it at
every `up`, so it must register the demo's model once, put the champion back on the bad release
for a fresh demo, and never touch a model it did not register."""

from __future__ import annotations

import uuid

import pytest

from slo_monitor.cli import main
from slo_monitor.local_mlflow import DEMO_CHAMPION, DEMO_VERSIONS
from tests.kafka_support import free_port
from tests.remediation_actions.mlflow_support import register_model


def _demo_model(monkeypatch: pytest.MonkeyPatch, url: str, name: str) -> int:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    return main(["demo-model", "--model-id", name])


def test_registers_the_demo_model_and_sets_the_champion_back_when_run_again(mlflow_server, mlflow_client, monkeypatch,
                                                                            capsys):
    name = f"demo-{uuid.uuid4().hex[:8]}"
    assert _demo_model(monkeypatch, mlflow_server.url, name) == 0
    versions = sorted(mlflow_client.search_model_versions(f"name = '{name}'"), key=lambda v: int(v.version))
    assert [(v.version, v.description, v.status) for v in versions] == [
        (str(number), description, "READY") for number, description in enumerate(DEMO_VERSIONS, 1)]
    assert mlflow_client.get_model_version_by_alias(name, "champion").version == DEMO_CHAMPION == "2"
    assert f"{name} versions 1 (v1: healthy), 2 (v2: the bad release); alias champion -> 2" in capsys.readouterr().out

    mlflow_client.set_registered_model_alias(name, "champion", "1")   # what the demo's rollback does
    assert _demo_model(monkeypatch, mlflow_server.url, name) == 0
    assert len(mlflow_client.search_model_versions(f"name = '{name}'")) == 2, "no version added twice"
    assert mlflow_client.get_model_version_by_alias(name, "champion").version == "2"


def test_a_model_it_did_not_register_is_left_alone(mlflow_server, mlflow_client, monkeypatch, capsys):
    name = register_model(mlflow_client, versions=3, champion="3")
    assert _demo_model(monkeypatch, mlflow_server.url, name) == 1
    assert f"already has a registered model {name!r} that is not the demo's" in capsys.readouterr().err
    assert len(mlflow_client.search_model_versions(f"name = '{name}'")) == 3
    assert mlflow_client.get_model_version_by_alias(name, "champion").version == "3"


def test_without_a_registry_it_says_what_to_set(monkeypatch, capsys):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["demo-model"]) == 2
    assert "set MLFLOW_TRACKING_URI or pass --tracking-uri" in capsys.readouterr().err


def test_an_unreachable_registry_is_one_line_and_exit_1(monkeypatch, capsys):
    url = f"http://127.0.0.1:{free_port()}"   # nothing listens there
    assert _demo_model(monkeypatch, url, "fraud-detector") == 1
    err = capsys.readouterr().err
    assert err.startswith(f"demo-model: API request to {url}/") and err.count("\n") == 1, err

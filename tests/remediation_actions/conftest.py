"""Fixtures: one real MLflow tracking server for the session (SQLite, loopback); its start time is
printed at the end of the run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.remediation_actions.mlflow_support import MlflowServer

_started: list[float] = []


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = MlflowServer(tmp_path_factory.mktemp("mlflow")).start()
    assert server.start_seconds is not None
    _started.append(server.start_seconds)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _bounded_mlflow_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail fast: no client retries, short timeouts (the executor's own retries are under test)."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")


@pytest.fixture
def mlflow_client(mlflow_server: MlflowServer) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _started:
        terminalreporter.write_line(f"MLflow tracking server (SQLite) answered /health {_started[0]:.1f}s after start")

"""A local MLflow tracking server for the demo: SQLite backend, loopback only, its own process group.

`mlflow server` starts uvicorn workers; the group is stopped together. Needs the full `mlflow`
package (the `dev` extra that `make install` installs); the monitor itself needs only the client.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any


class LocalMlflowServer:
    def __init__(self, directory: Path, port: int = 0) -> None:
        self.directory = directory
        if port == 0:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.start_seconds: float | None = None   # how long the last start took
        self._process: subprocess.Popen | None = None

    @staticmethod
    def executable() -> str | None:
        beside = Path(sys.executable).with_name("mlflow")
        return str(beside) if beside.exists() else shutil.which("mlflow")

    def start(self, timeout: float = 120.0) -> LocalMlflowServer:
        mlflow = self.executable()
        if mlflow is None:
            raise RuntimeError("no `mlflow` command: `make install` (the dev extra) installs the server")
        self.directory.mkdir(parents=True, exist_ok=True)
        log_path = self.directory / "mlflow-server.log"
        with open(log_path, "wb") as log:
            self._process = subprocess.Popen(
                [mlflow, "server", "--backend-store-uri", f"sqlite:///{self.directory / 'mlflow.db'}",
                 "--default-artifact-root", str(self.directory / "artifacts"), "--host", "127.0.0.1",
                 "--port", str(self.port), "--workers", "1"],
                env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        began = time.monotonic()
        deadline = began + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                    if response.status == 200:
                        self.start_seconds = time.monotonic() - began
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"mlflow server did not answer within {timeout:.0f}s (log: {log_path})")

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(10)

    def __enter__(self) -> LocalMlflowServer:
        return self.start()

    def __exit__(self, *_exc: Any) -> None:
        self.stop()


# The demo's registered model: version 1 is healthy, version 2 the bad release that is champion at
# the start, so the demo's breach has something to roll back to.
DEMO_VERSIONS = ("v1: healthy", "v2: the bad release")
DEMO_CHAMPION = "2"
DEMO_MODEL_DESCRIPTION = "the slo-monitor demo's model"


class NotTheDemoModel(RuntimeError):
    """The registry already holds a model of that name that the demo did not register."""


def register_demo_model(tracking_uri: str, name: str, descriptions: tuple[str, ...] | list[str] = DEMO_VERSIONS,
                        champion: str = DEMO_CHAMPION) -> Any:
    """A registered model whose versions 1..n are READY (sources in one run), alias `champion`.

    Safe to run again (Docker Compose's demo runs it at every `up`): versions already there are
    kept, missing ones added, and the alias is set back to `champion` for a fresh demo. A model of
    the same name that the demo did not register is left alone (`NotTheDemoModel`), so pointing
    this at a real registry cannot move a real model's alias.
    """
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    try:
        client.create_registered_model(name, description=DEMO_MODEL_DESCRIPTION)
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        if client.get_registered_model(name).description != DEMO_MODEL_DESCRIPTION:
            raise NotTheDemoModel(f"{tracking_uri} already has a registered model {name!r} that is not the "
                                  "demo's; it is left alone") from None
    existing = len(client.search_model_versions(f"name = '{name}'"))
    if existing < len(descriptions):
        experiment = client.get_experiment_by_name(f"{name}-training")
        experiment_id = (experiment.experiment_id if experiment is not None
                         else client.create_experiment(f"{name}-training"))
        run = client.create_run(experiment_id)
        for description in descriptions[existing:]:
            client.create_model_version(name, source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id,
                                        description=description)
    client.set_registered_model_alias(name, "champion", champion)
    return client

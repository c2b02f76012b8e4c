"""The MLflow Model Registry, as the rollback uses it: aliases, versions, version tags.

A thin wrapper over ``mlflow.MlflowClient`` that sorts every failure into one of two kinds the
executor acts on differently:

- `RegistryError`: MLflow answered and refused (no such model or version, invalid value,
  permission): retrying will not help; the action is audited as failed.
- `RegistryUnavailable`: no usable answer (connection refused, timeout, 5xx). ``uncertain`` is
  True when a *changing* request may have reached MLflow before the failure (anything but a
  refused connection): the change may or may not have happened, so the caller must find out
  before it gives up.

The MLflow client retries by itself (7 times with exponential backoff by default, minutes in
total), which would stall the executor's Kafka loop; `MlflowRegistry` caps it through MLflow's own
environment variables unless they are already set.

Credentials: the MLflow client reads ``MLFLOW_TRACKING_USERNAME``/``PASSWORD``/``TOKEN`` from the
environment on every request. `load_credential_files` adds the ``<NAME>_FILE`` forms (a Docker or
Kubernetes secret mounted as a file; the file wins, as for routing keys) by copying them into this
process's environment, and returns the secret values so that logs can redact them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, MutableMapping
from typing import Any, TypeVar

from flows.secret_files import read_secret_file
from remediation.rollback_target import VersionInfo

T = TypeVar("T")

_DEFINITE_CODES = frozenset({
    "RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "RESOURCE_ALREADY_EXISTS", "PERMISSION_DENIED",
    "UNAUTHENTICATED", "BAD_REQUEST", "INVALID_STATE", "NOT_FOUND", "ENDPOINT_NOT_FOUND",
})
_NOT_SENT = ("NewConnectionError", "Connection refused", "Name or service not known", "No route to host")


class RegistryError(Exception):
    """MLflow answered with a refusal that retrying will not change."""


class RegistryUnavailable(Exception):
    """MLflow could not be reached or failed; `uncertain`: a change may have been applied."""

    def __init__(self, message: str, uncertain: bool):
        super().__init__(message)
        self.uncertain = uncertain


def registry_version(version: str | int | None) -> str | None:
    """A prediction's model_version as a registry version: ``"v5"`` and ``5`` become ``"5"``.

    >>> registry_version("v5"), registry_version(5), registry_version("2024-11-rc1")
    ('5', '5', '2024-11-rc1')
    """
    if version is None:
        return None
    text = str(version).strip()
    if text[:1] in ("v", "V") and text[1:].isdigit():
        return text[1:]
    return text


def cap_client_retries(retries: int | None = None, timeout: int | None = None, backoff: int | None = None) -> None:
    """Bound the MLflow client's own retries; explicit arguments win over the environment."""
    for name, value, default in (("MLFLOW_HTTP_REQUEST_MAX_RETRIES", retries, 2),
                                 ("MLFLOW_HTTP_REQUEST_TIMEOUT", timeout, 15),
                                 ("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", backoff, 1)):
        if value is not None:
            os.environ[name] = str(value)
        else:
            os.environ.setdefault(name, str(default))


CREDENTIALS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")
SECRETS = ("MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


def load_credential_files(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Set each MLflow credential whose ``<NAME>_FILE`` is given from that file (in `environ`,
    the process environment by default, where the MLflow client looks); return the password and
    token in force, for redaction. An unreadable file raises `SecretFileError` naming the file.

    >>> env = {"MLFLOW_TRACKING_TOKEN": "t0ken-from-env"}
    >>> load_credential_files(env), env
    (['t0ken-from-env'], {'MLFLOW_TRACKING_TOKEN': 't0ken-from-env'})
    """
    environ = os.environ if environ is None else environ
    for name in CREDENTIALS:
        path = environ.get(f"{name}_FILE")
        if path:
            value = read_secret_file(path, f"MLflow credential {name}")
            if value:
                environ[name] = value
    return [environ[name] for name in SECRETS if environ.get(name)]


class MlflowRegistry:
    """Registry calls with failures classified (see the module docstring)."""

    def __init__(self, tracking_uri: str, client: Any | None = None):
        if client is None:
            from mlflow import MlflowClient

            client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self.tracking_uri = tracking_uri
        self.client = client

    def __repr__(self) -> str:
        return f"MlflowRegistry({self.tracking_uri!r})"

    # --- reads ---------------------------------------------------------------------------------

    def alias_target(self, name: str, alias: str) -> str | None:
        """The version `alias` points to, None when the alias (or model) does not exist."""
        try:
            return str(self._call(self.client.get_model_version_by_alias, name, alias, changes=False).version)
        except RegistryError as error:
            if "RESOURCE_DOES_NOT_EXIST" in str(error) or "not found" in str(error).lower():
                return None
            raise

    def versions(self, name: str) -> list[VersionInfo]:
        """Every version of registered model `name`, with tags."""
        found = self._call(self.client.search_model_versions, f"name='{_quote(name)}'", changes=False)
        return [VersionInfo(str(v.version), str(v.status), dict(v.tags or {})) for v in found]

    # --- changes -------------------------------------------------------------------------------

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self._call(self.client.set_registered_model_alias, name, alias, version, changes=True)

    def set_tag(self, name: str, version: str, key: str, value: str) -> None:
        self._call(self.client.set_model_version_tag, name, version, key, value, changes=True)

    def delete_tag(self, name: str, version: str, key: str) -> None:
        try:
            self._call(self.client.delete_model_version_tag, name, version, key, changes=True)
        except RegistryError as error:
            if "RESOURCE_DOES_NOT_EXIST" not in str(error):
                raise

    # --- classification ------------------------------------------------------------------------

    def _call(self, fn: Callable[..., T], *args: Any, changes: bool) -> T:
        from mlflow.exceptions import MlflowException

        try:
            return fn(*args)
        except MlflowException as error:
            code = getattr(error, "error_code", "") or ""
            text = f"{code}: {error.message}" if hasattr(error, "message") else f"{code}: {error}"
            if code in _DEFINITE_CODES:
                raise RegistryError(_short(text)) from error
            if _not_sent(error):
                raise RegistryUnavailable("cannot connect (connection refused)", uncertain=False) from error
            raise RegistryUnavailable(_short(text), uncertain=changes) from error
        except Exception as error:  # noqa: BLE001 - requests/urllib3 errors surface unwrapped in some paths
            if _not_sent(error):
                raise RegistryUnavailable("cannot connect (connection refused)", uncertain=False) from error
            raise RegistryUnavailable(_short(f"{type(error).__name__}: {error}"), uncertain=changes) from error


def _not_sent(error: BaseException) -> bool:
    """True when the request certainly never reached MLflow (the connection was refused)."""
    seen: BaseException | None = error
    while seen is not None:
        if any(marker in str(seen) for marker in _NOT_SENT) or isinstance(seen, ConnectionRefusedError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 400 else text[:397] + "..."


def _quote(name: str) -> str:
    return name.replace("'", "\\'")

"""Secrets from files, Docker/Kubernetes style (a mounted secret): one reader for Kafka passwords,
PagerDuty routing keys and MLflow credentials alike, so each is read and reported the same way."""

from __future__ import annotations

from pathlib import Path


class SecretFileError(ValueError):
    """A secret's file cannot be read (the file is named, its content never shown)."""


def read_secret_file(path: str, what: str) -> str | None:
    """The secret held in file `path`: the whole file, surrounding whitespace (the trailing newline
    editors add) stripped; None when it is empty. `what` names the secret in the error.

    >>> read_secret_file("/nonexistent/pw", "the Kafka SASL password")
    Traceback (most recent call last):
    ...
    flows.secret_files.SecretFileError: cannot read the Kafka SASL password from file /nonexistent/pw: No such file or directory
    """
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not UTF-8 text"
        raise SecretFileError(f"cannot read {what} from file {path}: {reason}") from None
    return value or None

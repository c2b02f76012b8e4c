"""Configuration of every Kafka client the monitor makes, in one place.

Consumers start from the earliest offset when they have none (librdkafka's default is
`latest`, which would silently skip everything written before the first start); producers are
idempotent (librdkafka's default is not) so a retried send is not written twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from flows.settings import FlowSettings

# Secrets that may come from the environment instead of a file or the command line (where
# `ps` would show them): variable -> librdkafka setting.
SECRET_ENVIRONMENT = {"KAFKA_SASL_PASSWORD": "sasl.password", "KAFKA_SSL_KEY_PASSWORD": "ssl.key.password"}


def common_config(settings: FlowSettings) -> dict[str, str]:
    return {"bootstrap.servers": settings.bootstrap_servers, **settings.kafka_config}


def consumer_config(settings: FlowSettings) -> dict[str, str]:
    return {
        **common_config(settings),
        "auto.offset.reset": "earliest",
        "enable.auto.commit": "false",
    }


def producer_config(settings: FlowSettings) -> dict[str, str]:
    return {
        **common_config(settings),
        "enable.idempotence": "true",
        "acks": "all",
        "linger.ms": "20",
        "compression.type": "lz4",
    }


def client_settings(options: Mapping[str, str], file: Path | str | None = None,
                    environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Extra librdkafka settings (SASL, TLS) for every client, from three places, later wins:
    a properties file (`KEY=VALUE` lines, `#` comments; e.g. from a mounted secret), the
    `--kafka-config KEY=VALUE` options, then `KAFKA_SASL_PASSWORD`/`KAFKA_SSL_KEY_PASSWORD`.

    >>> client_settings({"sasl.username": "svc"}, environ={"KAFKA_SASL_PASSWORD": "s3cret"})
    {'sasl.username': 'svc', 'sasl.password': 's3cret'}
    """
    settings: dict[str, str] = {}
    if file is not None:
        settings.update(read_properties(Path(file)))
    settings.update(options)
    for variable, key in SECRET_ENVIRONMENT.items():
        if (environ or {}).get(variable):
            settings[key] = environ[variable]
    return settings


def read_properties(path: Path) -> dict[str, str]:
    """A Java-style client.properties file: `KEY=VALUE` lines; blank lines and `#` comments skipped.
    Errors name the file and line, never the value (it may be a password)."""
    settings = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{path}:{number}: expected KEY=VALUE")
        settings[key.strip()] = value.strip()
    return settings

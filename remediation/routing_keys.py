"""Which PagerDuty routing key (integration key) each page goes to, and keeping keys secret.

A routing key picks a PagerDuty service and so an escalation policy: SLOs owned by different
teams, or tiers that should wake different people, use different keys. Keys come from
environment variables or files (Kubernetes/Docker secrets), are read once at start, and are only
ever referred to by *target* names (``slo:<name>``, ``tier:<severity>``, ``default``) in logs,
state and audit records. Lookup order for a page: the SLO's key, then its tier's, then the default.

Environment conventions (``BASE`` is ``PAGERDUTY_ROUTING_KEY`` or the SLO file's
``pagerduty.routing_key_env``): ``BASE`` or ``BASE_FILE`` for the default key, ``BASE_CRITICAL``,
``BASE_ERROR``, ``BASE_WARNING``, ``BASE_INFO`` (or their ``_FILE`` forms) per tier. Per-SLO keys
and other variable names come from the paging config file (remediation/paging_config.py).

>>> env = {"PAGERDUTY_ROUTING_KEY": "d" * 32, "PAGERDUTY_ROUTING_KEY_CRITICAL": "c" * 32}
>>> keys = RoutingKeys(RoutingConfig.from_environment(env), env)
>>> keys.target_for("fraud-precision", "critical"), keys.target_for("fraud-precision", "warning")
('tier:critical', 'default')
>>> "c" * 32 in repr(keys)
False
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from flows.secret_files import SecretFileError, read_secret_file
from remediation.alert_record import SEVERITIES
from remediation.events_contract import ROUTING_KEY_LENGTH

DEFAULT_ENV = "PAGERDUTY_ROUTING_KEY"
DEFAULT_TARGET = "default"
REDACTED = "[REDACTED]"

log = logging.getLogger(__name__)


class RoutingConfigError(ValueError):
    """A configured key source cannot be read (named, never shown)."""


@dataclass(frozen=True)
class KeySource:
    """Where one routing key lives: an environment variable or a file (file wins)."""

    env: str | None = None
    file: str | None = None

    def describe(self) -> str:
        """Safe to log: names the place, never the value."""
        if self.file:
            return f"file {self.file}"
        return f"env {self.env}" if self.env else "nowhere"

    def read(self, environ: Mapping[str, str]) -> str | None:
        if self.file:
            try:
                return read_secret_file(self.file, "routing key")
            except SecretFileError as error:
                raise RoutingConfigError(str(error)) from None
        if self.env:
            return environ.get(self.env, "").strip() or None
        return None


@dataclass(frozen=True)
class RoutingConfig:
    """Key sources by target; built from the environment, a paging config file, or both."""

    default: KeySource = KeySource(env=DEFAULT_ENV)
    tiers: Mapping[str, KeySource] = field(default_factory=dict)
    slos: Mapping[str, KeySource] = field(default_factory=dict)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, base: str = DEFAULT_ENV,
                         slos: Mapping[str, KeySource] | None = None,
                         tiers: Mapping[str, KeySource] | None = None) -> RoutingConfig:
        """The env conventions above; explicit `tiers`/`slos` (from a file) take precedence."""
        environ = os.environ if environ is None else environ
        default = _source_from_env(environ, base) or KeySource(env=base)
        found: dict[str, KeySource] = {}
        for tier in SEVERITIES:
            source = _source_from_env(environ, f"{base}_{tier.upper()}")
            if source:
                found[tier] = source
        found.update(tiers or {})
        return cls(default=default, tiers=found, slos=dict(slos or {}))


def _source_from_env(environ: Mapping[str, str], name: str) -> KeySource | None:
    if environ.get(f"{name}_FILE"):
        return KeySource(file=environ[f"{name}_FILE"])
    if environ.get(name):
        return KeySource(env=name)
    return None


class RoutingKeys:
    """The keys themselves, resolved once. Answers which target a page goes to; hands the key
    only to the sender. A target without a key means "log what would be sent"."""

    def __init__(self, config: RoutingConfig, environ: Mapping[str, str] | None = None):
        environ = os.environ if environ is None else environ
        self._config = config
        self._keys: dict[str, str] = {}
        self._sources: dict[str, KeySource] = {}
        candidates = [(DEFAULT_TARGET, config.default)]
        candidates += [(f"tier:{tier}", source) for tier, source in config.tiers.items()]
        candidates += [(f"slo:{slo}", source) for slo, source in config.slos.items()]
        for target, source in candidates:
            self._sources[target] = source
            value = source.read(environ)
            if value:
                self._keys[target] = value

    def target_for(self, slo: str, severity: str) -> str:
        """The target a page of this SLO and tier goes to (``default`` if nothing closer)."""
        for target in (f"slo:{slo}", f"tier:{severity}"):
            if target in self._keys:
                return target
        return DEFAULT_TARGET

    def key(self, target: str) -> str | None:
        """The routing key of `target`, or None when paging there is log-only."""
        return self._keys.get(target)

    @property
    def any_key(self) -> bool:
        return bool(self._keys)

    def secrets(self) -> list[str]:
        """Every key, for redaction filters."""
        return list(self._keys.values())

    def describe(self) -> dict[str, str]:
        """target -> where its key comes from and whether it was found (safe to log)."""
        return {
            target: f"{source.describe()} ({'set' if target in self._keys else 'not set: log only'})"
            for target, source in self._sources.items()
        }

    def problems(self) -> list[str]:
        """Keys that PagerDuty will refuse (wrong length, not letters and digits), by target: worth a
        warning at start (their pages are answered 400, audited `rejected`, and not retried)."""
        problems = []
        for target, value in self._keys.items():
            where = f"routing key of {target} ({self._sources[target].describe()})"
            if len(value) != ROUTING_KEY_LENGTH:
                problems.append(f"{where} has {len(value)} characters; PagerDuty integration keys have "
                                f"{ROUTING_KEY_LENGTH}")
            elif not (value.isascii() and value.isalnum()):
                problems.append(f"{where} has characters other than letters and digits; PagerDuty refuses it")
        return problems

    def __repr__(self) -> str:
        return f"RoutingKeys({self.describe()})"


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by [REDACTED]."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """A handler filter that removes secrets from every record, whoever logged it.

    Attach it to handlers (not loggers): handler filters see records of all loggers.
    """

    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        clean = redact(message, self._secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info), self._secrets)
            record.exc_info = None
        return True


def install_redaction(secrets: Iterable[str], logger: logging.Logger | None = None) -> RedactingFilter:
    """Attach a RedactingFilter to every handler of `logger` (root by default)."""
    flt = RedactingFilter(secrets)
    for handler in (logger or logging.getLogger()).handlers:
        handler.addFilter(flt)
    return flt

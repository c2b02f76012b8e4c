"""The optional paging config file (YAML): routing per tier and per SLO, maintenance windows,
links, rate limit and the Slack channel. Secrets are referenced (an env var or a file), never
written in it, so the file can live in git.

```yaml
routing:
  default: {env: PAGERDUTY_ROUTING_KEY}        # or {file: /run/secrets/pagerduty}
  tiers:
    critical: {env: PD_KEY_SRE_ONCALL}
  slos:
    fraud-precision: {file: /run/secrets/pd-fraud-team}
maintenance:
  - {slo: fraud-precision, start: 2026-11-27T02:00:00Z, end: 2026-11-27T04:00:00Z, reason: retraining}
  - {slo: "*", start: ..., end: ...}           # every SLO
links:
  report: https://reports.example.com/{slo}/{model_id}/{alert_id}
  dashboard: https://grafana.example.com/d/slo?var-slo={slo}&var-model={model_id}
rate_limit_per_minute: 120
slack:
  webhook_url_env: SLACK_WEBHOOK_URL
  severities: [warning, info]
```

It is separate from the SLO file because the SLO file's ``pagerduty`` section is strict
(slo/spec.py allows only ``routing_key_env``); its ``routing_key_env`` still names the default.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from remediation.alert_record import SEVERITIES
from remediation.maintenance import MaintenanceWindow
from remediation.pagerduty_event import LinkTemplates
from remediation.routing_keys import KeySource
from slo.spec_errors import SloSpecError, did_you_mean
from slo.yaml_source import compose_yaml


class PagingConfigError(ValueError):
    """The paging config file is unreadable or invalid (message names file and key)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeySourceSpec(_Strict):
    env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    file: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> KeySourceSpec:
        if bool(self.env) == bool(self.file):
            raise ValueError("give exactly one of 'env' (a variable name) or 'file' (a path)")
        return self

    def source(self) -> KeySource:
        return KeySource(env=self.env, file=self.file)


class RoutingSpec(_Strict):
    default: KeySourceSpec | None = None
    tiers: dict[str, KeySourceSpec] = Field(default_factory=dict)
    slos: dict[str, KeySourceSpec] = Field(default_factory=dict)

    @field_validator("tiers")
    @classmethod
    def _known_tiers(cls, value: dict[str, KeySourceSpec]) -> dict[str, KeySourceSpec]:
        unknown = [t for t in value if t not in SEVERITIES]
        if unknown:
            raise ValueError(f"unknown tier(s) {unknown}: expected {', '.join(SEVERITIES)}")
        return value


class MaintenanceSpec(_Strict):
    slo: str
    start: datetime
    end: datetime
    reason: str = "maintenance"

    def window(self) -> MaintenanceWindow:
        return MaintenanceWindow(self.slo, self.start, self.end, self.reason)


class LinksSpec(_Strict):
    report: str | None = None
    dashboard: str | None = None


class SlackSpec(_Strict):
    webhook_url_env: str = "SLACK_WEBHOOK_URL"
    severities: tuple[str, ...] = ("warning", "info")

    @field_validator("severities")
    @classmethod
    def _known_severities(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for severity in value:   # a misspelt one would never match an alert
            if severity not in SEVERITIES:
                raise ValueError(f"unknown severity {severity!r}: expected {', '.join(SEVERITIES)}"
                                 + did_you_mean(severity, SEVERITIES))
        return value


class PagingConfig(_Strict):
    routing: RoutingSpec = RoutingSpec()
    maintenance: tuple[MaintenanceSpec, ...] = ()
    links: LinksSpec = LinksSpec()
    rate_limit_per_minute: int | None = Field(default=None, ge=1)
    slack: SlackSpec | None = None

    def windows(self) -> tuple[MaintenanceWindow, ...]:
        return tuple(spec.window() for spec in self.maintenance)

    def link_templates(self) -> LinkTemplates:
        return LinkTemplates(report=self.links.report, dashboard=self.links.dashboard)


def load_paging_config(path: str | Path, slo_names: Iterable[str] | None = None) -> PagingConfig:
    """Read and validate a paging config file. With `slo_names` (the SLO file's), the SLOs it names
    must exist: a misspelt route or maintenance window would never match, and say nothing."""
    try:
        data: Any = compose_yaml(Path(path).read_text(encoding="utf-8"), str(path))[0] or {}
    except OSError as error:
        raise PagingConfigError(f"{path}: cannot read: {error.strerror}") from None
    except SloSpecError as error:   # not YAML, or a key given twice (plain YAML would keep the last)
        raise PagingConfigError(str(error)) from None
    try:
        config = PagingConfig.model_validate(data)
        config.windows()
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in error.errors(include_url=False))
        raise PagingConfigError(f"{path}: {problems}") from None
    except ValueError as error:
        raise PagingConfigError(f"{path}: {error}") from None
    if slo_names is not None:
        known = list(slo_names)
        named = [(f"routing.slos.{name}", name) for name in config.routing.slos]
        named += [(f"maintenance[{i}].slo", window.slo) for i, window in enumerate(config.maintenance)
                  if window.slo != "*"]
        unknown = [f"{where}: no SLO named {name!r} in the SLO file" + did_you_mean(name, known)
                   for where, name in named if name not in known]
        if unknown:
            raise PagingConfigError(f"{path}: " + "; ".join(unknown))
    return config

"""The remediation config file (YAML): playbooks per SLO and severity, their options and guardrails.

The SLO file says *which* actions an alert calls for (``remediation: {critical: [rollback, ...]}``,
carried on every alert as its ``remediation`` field); this file says *how* and *how often*. It is a
separate file because slo/spec.py rejects unknown keys, and so that an operator can switch a model
to dry-run or approval-only without touching the SLOs.

```yaml
defaults:                      # every SLO, unless it overrides a key below
  dry_run: false               # decide and audit what would be done; change nothing
  approval_only: false         # audit a proposal instead of acting (a human applies it)
  max_actions_per_day: 4       # automatic actions per model in any 24h of alert event time
  rollback:
    cooldown: 6h               # per model: no second rollback within this event time
    min_labels: 100            # the alert's window must hold this many labels
  raise_review_sampling:
    cooldown: 1h
    baseline: 0.05             # the model's usual review rate
    factor: 4                  # raised rate = min(cap, baseline x factor)
    cap: 0.5
    duration: 6h               # then back to baseline
slos:
  fraud-precision:
    approval_only: true
    playbook:                  # replaces the SLO file's list for these severities
      critical: [rollback, raise_review_sampling]
    rollback: {min_labels: 200}
models:
  fraud-detector: {registered_model: fraud-detector-prod, alias: champion}
```

Every key is optional; without a file the defaults of this module apply. Errors name the file and
the key path: ``remediation.yaml: slos.fraud-precision.rollback.cooldwn: unknown key (did you
mean 'cooldown'?)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from remediation.alert_record import SEVERITIES, Alert
from slo.durations import format_duration, parse_duration
from slo.spec_errors import SloSpecError, did_you_mean
from slo.yaml_source import compose_yaml

ROLLBACK = "rollback"
RAISE_REVIEW_SAMPLING = "raise_review_sampling"
DIAGNOSTIC_REPORT = "diagnostic_report"
KNOWN_ACTIONS = (ROLLBACK, RAISE_REVIEW_SAMPLING, DIAGNOSTIC_REPORT)
DEFAULT_ALIAS = "champion"


class PlaybookConfigError(ValueError):
    """The remediation config file is unreadable or invalid (the message names file and key)."""


# --- resolved options (what the executor uses) -------------------------------------------------

@dataclass(frozen=True)
class ActionOptions:
    """Guardrails every action has."""

    enabled: bool = True
    cooldown: int = 3600            # seconds of alert event time between two runs per model
    min_labels: int = 0             # labels the alert's window must hold


@dataclass(frozen=True)
class RollbackOptions(ActionOptions):
    cooldown: int = 6 * 3600
    min_labels: int = 100


@dataclass(frozen=True)
class SamplingOptions(ActionOptions):
    baseline: float = 0.05          # the model's usual review rate
    factor: float = 4.0
    cap: float = 0.5
    duration: int = 6 * 3600        # seconds until the rate goes back to baseline

    @property
    def raised_rate(self) -> float:
        """The rate to publish: baseline x factor, at most cap (and at most 1)."""
        return min(self.cap, self.baseline * self.factor, 1.0)


@dataclass(frozen=True)
class ReportOptions(ActionOptions):
    cooldown: int = 0               # a report changes nothing: every alert gets its own


_OPTION_TYPES: dict[str, type[ActionOptions]] = {
    ROLLBACK: RollbackOptions, RAISE_REVIEW_SAMPLING: SamplingOptions, DIAGNOSTIC_REPORT: ReportOptions,
}


@dataclass(frozen=True)
class Playbook:
    """What to do for one alert: ordered actions, their options and the guardrails in force."""

    slo: str
    severity: str
    actions: tuple[str, ...]
    source: str                     # where the action list came from (for audit reasons)
    dry_run: bool = False
    approval_only: bool = False
    max_actions_per_day: int | None = 4
    registered_model: str = ""
    alias: str = DEFAULT_ALIAS
    options: Mapping[str, ActionOptions] = field(default_factory=dict)

    @property
    def mode(self) -> str:
        """live | dry_run | approval: dry-run wins over approval (both change nothing)."""
        return "dry_run" if self.dry_run else "approval" if self.approval_only else "live"

    def options_for(self, action: str) -> ActionOptions:
        return self.options.get(action) or _OPTION_TYPES.get(action, ActionOptions)()


# --- the file's schema -------------------------------------------------------------------------

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _seconds(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"bad duration {value!r}: write it with a unit, like 30m, 6h or 1d")
    if isinstance(value, int) and value == 0:
        return 0
    return parse_duration(value, allow_zero=True)


class _ActionSpec(_Strict):
    enabled: bool | None = None
    cooldown: int | None = None
    min_labels: int | None = Field(default=None, ge=0)

    @field_validator("cooldown", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> int | None:
        return _seconds(value)


class _SamplingSpec(_ActionSpec):
    baseline: float | None = Field(default=None, gt=0, le=1)
    factor: float | None = Field(default=None, gt=1)
    cap: float | None = Field(default=None, gt=0, le=1)
    duration: int | None = None

    @field_validator("duration", mode="before")
    @classmethod
    def _positive_duration(cls, value: Any) -> int | None:
        seconds = _seconds(value)
        if seconds == 0:
            raise ValueError("must be longer than 0s")
        return seconds


class _Scope(_Strict):
    """Keys shared by `defaults` and each SLO."""

    dry_run: bool | None = None
    approval_only: bool | None = None
    max_actions_per_day: int | None = Field(default=None, ge=0)
    rollback: _ActionSpec | None = None
    raise_review_sampling: _SamplingSpec | None = None
    diagnostic_report: _ActionSpec | None = None


class _SloScope(_Scope):
    playbook: dict[str, tuple[str, ...]] | None = None

    @field_validator("playbook")
    @classmethod
    def _known(cls, value: dict[str, tuple[str, ...]] | None) -> dict[str, tuple[str, ...]] | None:
        for severity, actions in (value or {}).items():
            if severity not in SEVERITIES:
                raise ValueError(f"unknown severity {severity!r}: expected one of {', '.join(SEVERITIES)}"
                                 + did_you_mean(severity, SEVERITIES))
            for action in actions:
                if action not in KNOWN_ACTIONS:
                    raise ValueError(f"unknown action {action!r}: expected one of {', '.join(KNOWN_ACTIONS)}"
                                     + did_you_mean(action, KNOWN_ACTIONS))
        return value


class _ModelSpec(_Strict):
    registered_model: str | None = Field(default=None, min_length=1)
    alias: str | None = Field(default=None, min_length=1)


class _File(_Strict):
    defaults: _Scope = _Scope()
    slos: dict[str, _SloScope] = Field(default_factory=dict)
    models: dict[str, _ModelSpec] = Field(default_factory=dict)


# --- the loaded config -------------------------------------------------------------------------

@dataclass(frozen=True)
class PlaybookConfig:
    """The remediation config, ready to answer "what does this alert call for?"."""

    spec: _File = field(default_factory=_File)
    source: str = "<defaults>"
    slo_actions: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)  # from the SLO file

    def playbook(self, alert: Alert) -> Playbook:
        """The playbook for `alert`: its SLO's actions at its severity, with merged options.

        Actions come from this file's ``slos.<slo>.playbook``, else the alert's own
        ``remediation`` field (the SLO file's list as the monitor saw it), else the SLO file.
        """
        d, s = self.spec.defaults, self.spec.slos.get(alert.slo, _SloScope())
        actions, source = self._actions(alert, s)
        model = self.spec.models.get(alert.model_id, _ModelSpec())
        options = {name: _merge(kind(), getattr(d, name), getattr(s, name)) for name, kind in _OPTION_TYPES.items()}
        return Playbook(
            slo=alert.slo, severity=alert.severity, actions=actions, source=source,
            dry_run=_pick(s.dry_run, d.dry_run, False),
            approval_only=_pick(s.approval_only, d.approval_only, False),
            max_actions_per_day=_daily_limit(s, d),
            registered_model=model.registered_model or alert.model_id,
            alias=model.alias or DEFAULT_ALIAS,
            options=options,
        )

    def with_overrides(self, *, dry_run: bool | None = None, approval_only: bool | None = None) -> PlaybookConfig:
        """The same config with dry-run/approval forced for every SLO (command-line switches)."""
        def force(scope: Any) -> Any:
            update = {k: v for k, v in (("dry_run", dry_run), ("approval_only", approval_only)) if v is not None}
            return scope.model_copy(update=update)
        spec = self.spec.model_copy(update={"defaults": force(self.spec.defaults),
                                            "slos": {k: force(v) for k, v in self.spec.slos.items()}})
        return replace(self, spec=spec)

    def describe(self) -> str:
        """One line for the start-up log."""
        d = self.spec.defaults
        r, m = _merge(RollbackOptions(), d.rollback, None), _merge(SamplingOptions(), d.raise_review_sampling, None)
        assert isinstance(m, SamplingOptions)
        return (f"{self.source}: {len(self.spec.slos)} SLO override(s); defaults: dry_run={bool(d.dry_run)}, "
                f"approval_only={bool(d.approval_only)}, {_describe_limit(_daily_limit(d))}, "
                f"rollback cooldown {format_duration(r.cooldown) if r.cooldown else '0s'} min_labels {r.min_labels}, "
                f"sampling {m.baseline:g}x{m.factor:g} (cap {m.cap:g}) for {format_duration(m.duration)}")

    def _actions(self, alert: Alert, scope: _SloScope) -> tuple[tuple[str, ...], str]:
        if scope.playbook and alert.severity in scope.playbook:
            return tuple(scope.playbook[alert.severity]), f"{self.source} slos.{alert.slo}.playbook.{alert.severity}"
        carried = alert.extras.get("remediation")
        if isinstance(carried, list) and all(isinstance(a, str) for a in carried):
            return tuple(carried), f"the alert's remediation list (SLO {alert.slo}, {alert.severity})"
        from_file = self.slo_actions.get(alert.slo, {}).get(alert.severity)
        if from_file:
            return tuple(from_file), f"the SLO file's remediation.{alert.severity}"
        return (), "no remediation configured"


def _pick(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _describe_limit(limit: int | None) -> str:
    return "no daily action limit" if limit is None else f"max {limit} actions/day"


def _daily_limit(*scopes: _Scope) -> int | None:
    """`max_actions_per_day` of the first scope that sets it; null there means no limit (as
    documented), which `_pick` would take for "not given". Default 4."""
    for scope in scopes:
        if "max_actions_per_day" in scope.model_fields_set:
            return scope.max_actions_per_day
    return 4


def _merge(base: ActionOptions, *layers: _ActionSpec | None) -> ActionOptions:
    """`base` with each layer's explicitly given keys applied in order."""
    names = {f.name for f in fields(base)}
    for layer in layers:
        if layer is not None:
            base = replace(base, **{k: v for k, v in layer.model_dump(exclude_none=True).items() if k in names})
    return base


def load_playbook_config(path: str | Path | None, slo_file: Any | None = None) -> PlaybookConfig:
    """Read and validate the remediation config; `path` None gives the defaults.

    With `slo_file` (slo.spec.SloFile), SLO names are checked against it and its ``remediation``
    lists are the fallback when an alert does not carry its own.
    """
    slo_actions: dict[str, dict[str, tuple[str, ...]]] = {}
    if slo_file is not None:
        slo_actions = {s.name: {sev: tuple(a) for sev, a in s.remediation.items()} for s in slo_file.slos}
    if path is None:
        return PlaybookConfig(slo_actions=slo_actions)
    source = str(path)
    try:
        data: Any = compose_yaml(Path(path).read_text(encoding="utf-8"), source)[0]
    except OSError as error:
        raise PlaybookConfigError(f"{source}: cannot read: {error.strerror}") from None
    except SloSpecError as error:   # not YAML, or a key given twice (plain YAML would keep the last)
        raise PlaybookConfigError(str(error)) from None
    return parse_playbook_config(data if data is not None else {}, source, slo_actions,
                                 known_slos=[s.name for s in slo_file.slos] if slo_file is not None else None,
                                 known_models=[s.model_id for s in slo_file.slos] if slo_file is not None else None)


def parse_playbook_config(data: Any, source: str = "<string>",
                          slo_actions: Mapping[str, Mapping[str, tuple[str, ...]]] | None = None,
                          known_slos: Iterable[str] | None = None,
                          known_models: Iterable[str] | None = None) -> PlaybookConfig:
    """Validate already-parsed YAML (a dict); see `load_playbook_config`."""
    if not isinstance(data, dict):
        raise PlaybookConfigError(f"{source}: expected a mapping at the top level, not {type(data).__name__}")
    try:
        spec = _File.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(_problem(e) for e in error.errors(include_url=False))
        raise PlaybookConfigError(f"{source}: {problems}") from None
    if known_slos is not None:
        known = list(known_slos)
        unknown = [name for name in spec.slos if name not in known]
        if unknown:
            raise PlaybookConfigError(f"{source}: " + "; ".join(
                f"slos.{name}: no SLO of that name in the SLO file" + did_you_mean(name, known) for name in unknown))
    if known_models is not None:   # a misspelt model's registry settings would be silently unused
        models = sorted(set(known_models))
        unknown = [name for name in spec.models if name not in models]
        if unknown:
            raise PlaybookConfigError(f"{source}: " + "; ".join(
                f"models.{name}: no SLO of the SLO file watches a model of that name" + did_you_mean(name, models)
                for name in unknown))
    for name, scope in spec.slos.items():
        sampling = _merge(SamplingOptions(), spec.defaults.raise_review_sampling, scope.raise_review_sampling)
        assert isinstance(sampling, SamplingOptions)
        if sampling.cap < sampling.baseline:
            raise PlaybookConfigError(f"{source}: slos.{name}.raise_review_sampling: cap {sampling.cap:g} is below "
                                      f"the baseline {sampling.baseline:g}: raising would lower the rate")
    defaults = _merge(SamplingOptions(), spec.defaults.raise_review_sampling)
    assert isinstance(defaults, SamplingOptions)
    if defaults.cap < defaults.baseline:
        raise PlaybookConfigError(f"{source}: defaults.raise_review_sampling: cap {defaults.cap:g} is below the "
                                  f"baseline {defaults.baseline:g}: raising would lower the rate")
    return PlaybookConfig(spec=spec, source=source, slo_actions=dict(slo_actions or {}))


def _problem(error: Mapping[str, Any]) -> str:
    path = [str(p) for p in error["loc"] if not str(p).startswith("function-")]
    where = ".".join(path) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key" + did_you_mean(path[-1], _keys_at(path[:-1]))
    message = str(error["msg"]).removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    given = error.get("input")
    if error["type"] not in ("value_error", "missing") and given is not None and not isinstance(given, dict):
        message += f" (got {given!r})"
    return f"{where}: {message}"


def _keys_at(path: list[str]) -> list[str]:
    """Keys allowed at a path (for did-you-mean hints)."""
    model: type[BaseModel] = _File
    for part in path:
        if model is _File and part in ("slos", "models"):
            model = _SloScope if part == "slos" else _ModelSpec
            continue
        if part in ("defaults",):
            model = _Scope
            continue
        if part in ("rollback", "diagnostic_report"):
            model = _ActionSpec
        elif part == "raise_review_sampling":
            model = _SamplingSpec
    return list(model.model_fields)

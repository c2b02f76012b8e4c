"""The SLO file: its schema, validation with line-accurate errors, and loading.

The keys of CONTRACT.md (``slos[].name/model_id/metric/positive_label/objective/window/
min_labels/segments/remediation``, ``pagerduty.routing_key_env``) work exactly as written there;
everything else is optional and defaults to slo/defaults.py. Keys starting with ``x-`` are
ignored anywhere (room for other tools' annotations); any other unknown key is an error, since a
typo'd option silently ignored is a monitor silently misconfigured.

>>> slo_file = parse_slo_yaml('''
... slos:
...   - name: fraud-precision
...     model_id: fraud-detector
...     metric: precision
...     positive_label: 1
...     objective: 0.95
... ''')
>>> spec = slo_file.slos[0]
>>> spec.window, spec.min_labels, spec.interval
(3600, 30, 'wilson')
>>> parse_slo_yaml("slos:\\n  - name: x\\n    model_id: m\\n    metric: f1\\n"
...                "    positive_label: 1\\n    objective: 0.9\\n", "s.yaml")
Traceback (most recent call last):
...
slo.spec_errors.SloSpecError: s.yaml:4: slos[0].metric: unknown metric 'f1': expected 'precision' or 'recall'
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    PrivateAttr,
    ValidationError,
    computed_field,
    field_validator,
)

from slo import defaults
from slo.drift.config import DriftSpec
from slo.durations import format_duration, parse_duration
from slo.spec_errors import PathPart, SloSpecError, SpecProblem, did_you_mean
from slo.spec_fields import Duration, Probability, SpecModel, whole_number
from slo.yaml_source import LineMap, compose_yaml

Severity = Literal["critical", "error", "warning", "info"]
SEVERITIES: tuple[str, ...] = typing.get_args(Severity)
Action = Literal["rollback", "raise_review_sampling", "diagnostic_report"]
Metric = Literal["precision", "recall"]
IntervalMethod = Literal["wilson", "clopper-pearson"]
NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"


# --- field types ---------------------------------------------------------------------------------

def _delay(value: Any) -> int:
    if value == 0 and not isinstance(value, bool):
        return 0
    if not isinstance(value, str):
        raise ValueError(f"bad duration {value!r}: write it with a unit, like 0s, 5m or 1h")
    return parse_duration(value, allow_zero=True)


def _positive_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"must be a number above 0 (got {value!r})")
    return float(value)


def _class_label(value: Any) -> bool | int | str:
    if isinstance(value, (bool, int, str)):
        return value
    raise ValueError(f"must be a bool, an integer or a string (got {value!r})")


Delay = Annotated[int, BeforeValidator(_delay)]
PositiveNumber = Annotated[float, BeforeValidator(_positive_number)]


# --- alert rules ---------------------------------------------------------------------------------

class BreachRuleSpec(SpecModel):
    """Page when the window's metric is below the objective with one-sided `confidence`."""

    severity: Severity = defaults.BREACH["severity"]
    window: Duration | None = None                       # default: the SLO window
    confidence: Probability = defaults.BREACH["confidence"]
    for_: Delay | None = Field(default=None, alias="for")  # default: window / 12


class BurnRateSpec(SpecModel):
    """Multiwindow burn rate: both windows at or above `threshold` x the error budget."""

    severity: Severity
    long: Duration
    short: Duration
    threshold: PositiveNumber
    confidence: Probability | None = None                # long window confidently below objective
    short_confidence: Probability | None = None          # short window too: the burn goes on
    for_: Delay = Field(default=0, alias="for")


class SustainedSpec(SpecModel):
    """Probable breach that lasts: upper bound at `confidence` below objective for `for`."""

    severity: Severity = defaults.SUSTAINED["severity"]
    confidence: Probability = defaults.SUSTAINED["confidence"]
    for_: Delay | None = Field(default=None, alias="for")  # default: one window


class StarvationSpec(SpecModel):
    """Predictions flow but labels stopped (needs predictions reported to the tracker)."""

    severity: Severity = defaults.STARVATION["severity"]
    for_: Delay | None = Field(default=None, alias="for")  # default: half a window
    fraction: Probability = defaults.STARVATION["fraction"]


class SequentialSpec(SpecModel):
    """Bernoulli CUSUM on the error stream (see slo/sequential.py)."""

    severity: Severity = defaults.SEQUENTIAL["severity"]
    shift: PositiveNumber = defaults.SEQUENTIAL["shift"]
    threshold: PositiveNumber = defaults.SEQUENTIAL["threshold"]

    @field_validator("shift")
    @classmethod
    def _shift_above_one(cls, value: float) -> float:
        if value <= 1.0:
            raise ValueError(f"must be above 1 (the error rate to detect, in error budgets; got {value})")
        return value


class TrendSpec(SpecModel):
    """Error rate moved from the key's usual level to the budget (label-by-label CUSUM)."""

    severity: Severity = defaults.TREND["severity"]
    threshold: PositiveNumber = defaults.TREND["threshold"]
    memory: Duration = parse_duration(defaults.TREND["memory"])  # time constant of the usual level
    confidence: Probability = defaults.TREND["confidence"]    # of the usual level's upper bound
    approach: Probability = defaults.TREND["approach"]        # window burn needed to warn
    shifts: tuple[PositiveNumber, ...] = defaults.TREND["shifts"]  # alternatives, in budgets

    @field_validator("shifts")
    @classmethod
    def _shifts_at_least_one(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or min(value) < 1.0:
            raise ValueError(f"must be a non-empty list of error budgets, each at least 1 (got {list(value)})")
        return value


class ChangeSpec(SpecModel):
    """Error rate rose from its usual level (river's ADWIN, label by label; slo/change.py)."""

    severity: Severity = defaults.CHANGE["severity"]
    delta: Probability = defaults.CHANGE["delta"]             # ADWIN's confidence parameter
    clock: whole_number(1) = defaults.CHANGE["clock"]  # labels between checks
    hold: Duration | None = None                              # latch length; default 6 x window
    approach: Probability = defaults.CHANGE["approach"]       # window burn needed to warn

    @field_validator("delta")
    @classmethod
    def _delta_open(cls, value: float) -> float:
        if not 0.0 < value < 1.0:
            raise ValueError(f"must be above 0 and below 1 (got {value})")
        return value


class ResolveSpec(SpecModel):
    """Resolve only after `for` at or above objective + `hysteresis` with no rule active."""

    hysteresis: float | None = None                      # default: 10% of the error budget
    for_: Delay | None = Field(default=None, alias="for")  # default: half a window

    @field_validator("hysteresis", mode="before")
    @classmethod
    def _hysteresis_range(cls, value: Any) -> Any:
        if value is None:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise ValueError(f"must be a number from 0 to below 1 (got {value!r})")
        return float(value)


class AlertingSpec(SpecModel):
    """Alert rules; an omitted rule takes its default, ``null`` disables it.

    The sequential test is the exception: off unless given (``sequential: {}`` for defaults).
    """

    breach: BreachRuleSpec | None = BreachRuleSpec()
    burn_rates: tuple[BurnRateSpec, ...] | None = None    # omitted: defaults; null or []: none
    sustained: SustainedSpec | None = SustainedSpec()
    starvation: StarvationSpec | None = StarvationSpec()
    sequential: SequentialSpec | None = None             # off unless given (`sequential: {}`)
    trend: TrendSpec | None = TrendSpec()
    change: ChangeSpec | None = ChangeSpec()
    resolve: ResolveSpec = ResolveSpec()
    # While the whole model's alert is open, a segment's alert of no higher severity is not opened:
    # one breach pages one incident (slo/policy.py, "hold"). false: every key pages on its own.
    hold_segment_alerts: bool = True

    @computed_field   # dumped, so comparing dumps tells an omitted `burn_rates` from a null one
    @property
    def default_burn_rates(self) -> bool:
        """True when the file did not give `burn_rates` (so the scaled defaults apply)."""
        return "burn_rates" not in self.model_fields_set


class ComplianceSpec(SpecModel):
    """Timeslices budgeting: share of `timeslice`s over `period` that must meet the objective."""

    period: Duration
    target: Probability = defaults.COMPLIANCE_TARGET
    timeslice: Duration | None = None                    # default: the SLO window


# --- the SLO and the file ------------------------------------------------------------------------

class SloSpec(SpecModel):
    """One SLO: a metric of one model that must stay at or above `objective` over `window`."""

    name: str = Field(pattern=NAME_PATTERN)
    model_id: str = Field(min_length=1)
    metric: Metric
    positive_label: Annotated[bool | int | str, BeforeValidator(_class_label)]
    objective: Probability
    window: Duration = parse_duration(defaults.WINDOW)
    min_labels: whole_number(1) = defaults.MIN_LABELS
    segments: tuple[str, ...] = ()
    remediation: dict[Severity, tuple[Action, ...]] = Field(default_factory=dict)
    description: str | None = None
    confidence: Probability = defaults.CONFIDENCE
    interval: IntervalMethod = defaults.INTERVAL
    bucket: Duration | None = None                       # default: smallest that fits the ring
    alerting: AlertingSpec = AlertingSpec()
    compliance: ComplianceSpec | None = None
    # Judge each window only once its labels have had this long to arrive: windows end this
    # far behind the evaluation clock. For labels that come hours late (see docs/slo-engine.md).
    evaluation_delay: Delay = 0
    # Label-free early warning: feature/score drift and estimated precision (docs/drift.md).
    drift: DriftSpec | None = None
    # Keep the compact state for a diagnostic report when an alert opens (docs/remediation.md).
    # Default: on when `remediation` lists diagnostic_report for some severity.
    diagnostics: bool | None = None

    @field_validator("segments")
    @classmethod
    def _segment_keys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        seen = set()
        for key in value:
            if not key or "=" in key or "/" in key:
                raise ValueError(f"segment key {key!r} must be non-empty without '=' or '/'")
            if key in seen:
                raise ValueError(f"segment key {key!r} is listed twice")
            seen.add(key)
        return value

    @property
    def keeps_diagnostics(self) -> bool:
        """Whether the engine keeps a `DiagnosticSketch` and publishes a summary per alert."""
        if self.diagnostics is not None:
            return self.diagnostics
        return any("diagnostic_report" in actions for actions in self.remediation.values())

    @property
    def needs_prediction_details(self) -> bool:
        """Whether the engine must see each prediction's score and features."""
        return self.drift is not None or self.keeps_diagnostics

    @property
    def budget(self) -> float:
        """The error budget: the share of errors the objective allows."""
        return 1.0 - self.objective


class PagerDutySpec(SpecModel):
    """Where paging gets its Events API v2 routing key (an environment variable's name)."""

    routing_key_env: str = Field(default="PAGERDUTY_ROUTING_KEY",
                                 pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


class SloFile(SpecModel):
    """A whole SLO file. `slos_for_model` indexes SLOs by model for routing."""

    slos: tuple[SloSpec, ...] = Field(min_length=1)
    pagerduty: PagerDutySpec = PagerDutySpec()

    _source: str = PrivateAttr(default="<string>")
    _by_model: dict[str, tuple[SloSpec, ...]] | None = PrivateAttr(default=None)

    @property
    def source(self) -> str:
        """Where the file came from (its name in error messages)."""
        return self._source

    def slos_for_model(self, model_id: str) -> tuple[SloSpec, ...]:
        """The SLOs that watch `model_id` (cached index)."""
        # Read the private dict directly: `self._by_model` goes through pydantic's __getattr__
        # (~4 us), and this runs for every joined label and prediction count.
        by_model = self.__pydantic_private__["_by_model"]
        if by_model is None:
            index: dict[str, list[SloSpec]] = {}
            for spec in self.slos:
                index.setdefault(spec.model_id, []).append(spec)
            by_model = self._by_model = {k: tuple(v) for k, v in index.items()}
        return by_model.get(model_id, ())

    def get(self, name: str) -> SloSpec:
        """The SLO called `name` (KeyError if none)."""
        for spec in self.slos:
            if spec.name == name:
                return spec
        raise KeyError(name)


# --- turning pydantic's errors into ours ---------------------------------------------------------

_WHAT = {"metric": "metric", "interval": "interval method", "severity": "severity",
         "remediation": "remediation action"}


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            annotation = models[0] if models else args[0]
        else:
            return annotation


def _keys_at(root: type[BaseModel], loc: Sequence[PathPart]) -> list[str]:
    """Known keys of the mapping at `loc` (for did-you-mean hints)."""
    annotation: Any = root
    for part in loc:
        annotation = _unwrap(annotation)
        origin = typing.get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = next((f for n, f in annotation.model_fields.items()
                          if part in (n, f.alias)), None)
            if field is None:
                return []
            annotation = field.annotation
        elif origin in (list, tuple):
            annotation = typing.get_args(annotation)[0]
        elif origin is dict:
            annotation = typing.get_args(annotation)[1]
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [f.alias or n for n, f in annotation.model_fields.items() if not f.exclude]
    if typing.get_origin(annotation) is dict:
        return list(typing.get_args(_unwrap(typing.get_args(annotation)[0])))
    return []


def _clean_loc(loc: Sequence[Any]) -> tuple[PathPart, ...]:
    # pydantic inserts validator names ("function-before[...]", "bool", "int"...) and "[key]"
    # markers into locations; keep only real keys and indices.
    out: list[PathPart] = []
    for part in loc:
        if isinstance(part, int):
            out.append(part)
        elif isinstance(part, str) and not (part.startswith("function-") or part == "[key]"
                                            or part in ("bool", "int", "str", "float", "tuple")):
            out.append(part)
    return tuple(out)


def _message(err: dict[str, Any], root: type[BaseModel], path: tuple[PathPart, ...]) -> str:
    kind = err["type"]
    given = err.get("input")
    if kind == "missing":
        return "missing required key"
    if kind == "extra_forbidden":
        key = path[-1] if path else "?"
        return f"unknown key {key!r}" + did_you_mean(str(key), _keys_at(root, path[:-1]))
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        field = next((p for p in reversed(path) if isinstance(p, str)), "")
        if "[key]" in err["loc"]:
            field = "severity"
        what = _WHAT.get(field, "value")
        if "remediation" in path and isinstance(path[-1], int):
            what = "remediation action"
        choices = [c.strip(" '") for c in expected.replace(" or ", ",").split(",") if c.strip()]
        return f"unknown {what} {given!r}: expected {expected}" + did_you_mean(str(given), choices)
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    if kind == "string_pattern_mismatch" and path and path[-1] == "name":
        return (f"bad name {given!r}: use lowercase letters, digits and '-' "
                "(not at either end), at most 63 characters")
    if kind == "string_pattern_mismatch" and path and path[-1] == "routing_key_env":
        return f"must be an environment variable name: letters, digits and _ (got {given!r})"
    if kind == "too_short" and path == ("slos",):
        return "no SLOs defined (need at least one)"
    text = str(err["msg"])
    return f"{text[0].lower()}{text[1:]} (got {given!r})" if given is not None else text


def _problems_from(exc: ValidationError, root: type[BaseModel], source: str,
                   lines: LineMap) -> list[SpecProblem]:
    problems = []
    errors = exc.errors(include_url=False)
    for err in errors:
        path = _clean_loc(err["loc"])
        if err["type"] == "union_tag_invalid":
            continue
        if err["type"] == "too_short" and any(len(_clean_loc(o["loc"])) > len(path)
                                              and _clean_loc(o["loc"])[:len(path)] == path
                                              for o in errors):
            continue  # pydantic also calls a list "too short" when its items failed
        problems.append(SpecProblem(source, lines.line_of(path), path, _message(err, root, path)))
    # pydantic reports each union branch for `X | None`; keep one problem per path and message
    unique: dict[tuple[Any, ...], SpecProblem] = {}
    for p in problems:
        unique.setdefault((p.path, p.message), p)
    return list(unique.values())


# --- checks that span fields ---------------------------------------------------------------------

def _semantic_problems(slo_file: SloFile, source: str, lines: LineMap) -> list[SpecProblem]:
    from slo.rules import RuleConfigError, resolve_rules

    problems: list[SpecProblem] = []
    first: dict[str, int] = {}
    for i, spec in enumerate(slo_file.slos):
        path = ("slos", i, "name")
        if spec.name in first:
            problems.append(SpecProblem(
                source, lines.line_of(path), path,
                f"duplicate SLO name {spec.name!r} (first defined at slos[{first[spec.name]}], "
                f"line {lines.line_of(('slos', first[spec.name], 'name'))})"))
        else:
            first[spec.name] = i
        try:
            resolve_rules(spec)
        except RuleConfigError as err:
            where = ("slos", i) + tuple(err.path)
            problems.append(SpecProblem(source, lines.line_of(where), where, err.message))
    return problems


# --- entry points --------------------------------------------------------------------------------

def validate_slo_data(data: Any, source: str = "<string>", lines: LineMap | None = None) -> SloFile:
    """Validate already-parsed data (a dict) as an SLO file; raise SloSpecError on problems."""
    lines = lines or LineMap()
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise SloSpecError([SpecProblem(source, lines.line_of(()), (),
                                        f"expected a mapping with an 'slos' list, the file is {kind}")])
    loose = _loose_labels(data, source, lines)
    if loose:
        raise SloSpecError(loose)
    try:
        slo_file = SloFile.model_validate(data)
    except ValidationError as exc:
        raise SloSpecError(_problems_from(exc, SloFile, source, lines)) from None
    problems = _semantic_problems(slo_file, source, lines)
    if problems:
        raise SloSpecError(problems)
    slo_file._source = source
    return slo_file


def _loose_labels(data: dict, source: str, lines: LineMap) -> list[SpecProblem]:
    """A `positive_label` that YAML 1.1 read as something its text does not plainly say: `yes` is
    True and `0x1` is 1, so predictions labelled "yes" would never count as flagged, and the SLO
    would never page. The label must be written as meant."""
    problems = []
    slos = data.get("slos")
    for index, slo in enumerate(slos if isinstance(slos, list) else []):
        path = ("slos", index, "positive_label")
        text = lines.loose_reading(path)
        if isinstance(slo, dict) and text is not None:
            value = slo.get("positive_label")
            plain = str(value).lower() if isinstance(value, bool) else str(value)
            problems.append(SpecProblem(source, lines.line_of(path), path,
                                        f"YAML reads {text} as {plain}: write \"{text}\" (quoted) for the text, "
                                        f"or {plain}"))
    return problems


def parse_slo_yaml(text: str, source: str = "<string>") -> SloFile:
    """Parse and validate an SLO file's text (this format, or OpenSLO v1 documents).

    `source` names the file in error messages.
    """
    from slo import openslo

    if openslo.looks_like_openslo(text):
        return openslo.parse_openslo_yaml(text, source)
    data, lines = compose_yaml(text, source)
    return validate_slo_data(data, source, lines)


def load_slo_file(path: str | Path) -> SloFile:
    """Read, parse and validate the SLO file at `path` (errors name the file and line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise SloSpecError([SpecProblem(str(path), None, (), f"cannot read: {err.strerror}")]) from None
    except UnicodeDecodeError as err:
        raise SloSpecError([SpecProblem(str(path), None, (), f"not UTF-8 text: {err.reason}")]) from None
    return parse_slo_yaml(text, path.name if path.name else str(path))


def describe(spec: SloSpec) -> str:
    """One line summarising an SLO, for logs and CLI output.

    >>> describe(parse_slo_yaml("slos: [{name: a, model_id: m, metric: recall, "
    ...                         "positive_label: true, objective: 0.9}]").slos[0])
    'a: recall of m >= 0.9 over 1h (positive label True, min 30 labels)'
    """
    return (f"{spec.name}: {spec.metric} of {spec.model_id} >= {spec.objective:g} over "
            f"{format_duration(spec.window)} (positive label {spec.positive_label!r}, "
            f"min {spec.min_labels} labels)")

"""The ``drift:`` block of an SLO: what "normal" is, how drift is judged, when to warn.

It is ``SloSpec.drift`` (off unless given; ``drift: {}`` takes every default). It follows
slo/spec.py's conventions (slo/spec_fields.py: frozen, unknown keys are errors, ``x-`` keys ignored,
durations as ``5m``/``1h``/``30d`` strings).

>>> spec = DriftSpec.model_validate({"reference": {"kind": "fixed", "first": "24h"},
...                                  "window": "6h"})
>>> spec.reference.kind, spec.reference.first, spec.window, spec.bucket_seconds
('fixed', 86400, 21600, 900)
>>> DriftSpec().reference.window, DriftSpec().reference.bucket_seconds
(2592000, 86400)
>>> try:
...     DriftSpec.model_validate({"reference": {"kind": "fixed"}})
... except ValueError as err:
...     print(err.errors()[0]["msg"])
Value error, a fixed reference needs either `first` (e.g. 24h) or both `start` and `end`, not both forms
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from schemas.timestamps import parse_event_time
from slo.drift.detectors import make_detector
from slo.defaults import MAX_RING_BUCKETS
from slo.durations import format_duration, parse_duration
from slo.spec_fields import Duration, Probability, SpecModel, whole_number

Proxy = Literal["estimated_metric", "flagged_rate", "detectors"]
Stream = Literal["flagged_rate", "error", "score"]
DetectorKind = Literal["adwin", "page_hinkley"]


def _timestamp(value: Any) -> float:
    # YAML turns unquoted ISO dates into datetime/date objects; accept only zoned instants
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"timestamp {value.isoformat()} has no time zone: add Z or +hh:mm")
        return value.timestamp()
    if isinstance(value, date):
        raise ValueError(f"{value.isoformat()} is a date: give an RFC 3339 time like "
                         f"{value.isoformat()}T00:00:00Z")
    return parse_event_time(value)


def _non_negative(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"must be a number of at least 0 (got {value!r})")
    return float(value)


Timestamp = Annotated[float, BeforeValidator(_timestamp)]
NonNegative = Annotated[float, BeforeValidator(_non_negative)]


def _bounded_ring(what: str, window: int, bucket: int) -> None:
    """Each bucket keeps a sketch of the features and score (~5 KiB): a 1000d window of 1m buckets
    would be 7 GiB. The same bound as the SLO window's ring."""
    if window // bucket > MAX_RING_BUCKETS:
        raise ValueError(f"the {what} window holds {window // bucket} buckets of {format_duration(bucket)}; at most "
                         f"{MAX_RING_BUCKETS} (use a longer `bucket`)")


class ReferenceSpec(SpecModel):
    """What "normal" is: a fixed baseline or a trailing window (see docs/drift.md).

    fixed, declared period: ``{kind: fixed, start: 2026-11-01T00:00:00Z, end: ...}``.
    fixed, first traffic:   ``{kind: fixed, first: 24h}`` (from the first prediction seen).
    trailing:               ``{kind: trailing, window: 30d}``: the `window` of traffic that ends
    where the current window starts, kept in `bucket`s (default window / 30).
    """

    kind: Literal["fixed", "trailing"] = "trailing"
    start: Timestamp | None = None
    end: Timestamp | None = None
    first: Duration | None = None
    window: Duration | None = None
    bucket: Duration | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ReferenceSpec:
        if self.kind == "fixed":
            if self.window is not None or self.bucket is not None:
                raise ValueError("`window` and `bucket` are for a trailing reference; a fixed one "
                                 "takes `first` or `start` and `end`")
            declared = self.start is not None or self.end is not None
            incomplete = declared and None in (self.start, self.end)
            if declared == (self.first is not None) or incomplete:
                raise ValueError("a fixed reference needs either `first` (e.g. 24h) or both "
                                 "`start` and `end`, not both forms")
            if declared and self.end <= self.start:
                raise ValueError("the reference `end` must come after its `start`")
        else:
            if self.start is not None or self.end is not None or self.first is not None:
                raise ValueError("`start`, `end` and `first` are for a fixed reference; a trailing "
                                 "one takes `window` (e.g. 30d)")
            if self.window is None:
                object.__setattr__(self, "window", parse_duration("30d"))
            if self.bucket is not None and self.window % self.bucket:
                raise ValueError("the reference `window` must be a whole number of `bucket`s")
            _bounded_ring("reference", self.window, self.bucket_seconds)
        return self

    @property
    def bucket_seconds(self) -> int:
        """Granularity of a trailing reference (default window / 30, at least a second)."""
        assert self.window is not None
        return self.bucket or max(1, self.window // 30)


class DetectorSpec(SpecModel):
    """A river change detector on one stream; `params` go to its constructor unchanged.

    Streams: ``flagged_rate`` (1 per flagged prediction, else 0), ``error`` (per joined label in
    the metric's population: 1 for a false positive (precision) or a missed positive (recall)),
    ``score`` (the model's score).
    """

    stream: Stream
    kind: DetectorKind = "adwin"
    params: dict[str, float | int | str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _constructible(self) -> DetectorSpec:
        try:
            make_detector(self.kind, dict(self.params))
        except (TypeError, ValueError) as err:
            raise ValueError(f"bad {self.kind} params {dict(self.params)!r}: {err}") from None
        return self


def _default_detectors() -> tuple[DetectorSpec, ...]:
    return (DetectorSpec(stream="flagged_rate", kind="adwin"),
            DetectorSpec(stream="error", kind="adwin"),
            DetectorSpec(stream="score", kind="page_hinkley"))


class WarningSpec(SpecModel):
    """The composite rule: `severity` when drift AND a proxy of the metric gets worse.

    Drift: at least `min_drifted` features drifted (BH decision). The score's own drift counts
    only with `count_score`: it is the same evidence as the proxies (more or fewer high scores
    move the flagged rate and the estimate), so counting it would let one chance fluctuation
    satisfy both halves of the rule. Proxies
    (any one suffices): ``estimated_metric`` (the label-free estimate fell below the reference's
    by more than `min_decline`, at the drift block's `confidence`), ``flagged_rate`` (changed by
    at least `min_rate_change` relative, significant at `alpha`), ``detectors`` (a river detector
    fired within the current window).
    """

    severity: Literal["critical", "error", "warning", "info"] = "warning"
    min_drifted: whole_number(1) = 1
    count_score: bool = False
    proxies: tuple[Proxy, ...] = ("estimated_metric", "flagged_rate")
    min_decline: NonNegative = 0.0       # absolute floor on top of the decline's significance
    min_rate_change: NonNegative = 0.25  # relative: hour-to-hour mix changes move it by less

    @field_validator("proxies")
    @classmethod
    def _some_proxy(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("list at least one proxy (estimated_metric, flagged_rate, detectors)")
        return value


class DriftSpec(SpecModel):
    """Drift detection and label-free estimation for one SLO's model (docs/drift.md)."""

    reference: ReferenceSpec = ReferenceSpec()
    window: Duration = parse_duration("24h")        # the current window compared with the reference
    bucket: Duration | None = None                  # its granularity (default window / 24)
    features: tuple[str, ...] | None = None         # default: all seen (up to max_features)
    categorical: tuple[str, ...] = ()               # force these to categorical (else: inferred)
    numeric_test: Literal["ks", "psi"] = "ks"
    categorical_test: Literal["chi2", "psi"] = "chi2"
    bins: whole_number(2) = 10
    alpha: Probability = 0.05          # per-test level: PSI threshold, flagged-rate test
    fdr: Probability = 0.05            # Benjamini-Hochberg level across features and score
    min_psi: NonNegative = 0.0      # optional effect-size floor for a drifted feature
    sample_size: whole_number(50) = 2000
    reference_sample_size: whole_number(50) = 5000
    min_samples: whole_number(10) = 100
    max_features: whole_number(1) = 100
    max_categories: whole_number(2) = 64
    score_bins: whole_number(2) = 40
    confidence: Probability = 0.95     # bounds of the estimated metric, decline test
    bootstrap: whole_number(50) = 400
    detectors: tuple[DetectorSpec, ...] = Field(default_factory=_default_detectors)
    warning: WarningSpec | None = WarningSpec()
    # How often the monitor flow evaluates, in event time (default: one `bucket`). At most 2h:
    # the monitor drops events further than that past its last evaluation (`AHEAD`).
    evaluate_every: Duration | None = None

    @model_validator(mode="after")
    def _window_fits(self) -> DriftSpec:
        if self.bucket is not None and self.window % self.bucket:
            raise ValueError("the drift `window` must be a whole number of `bucket`s")
        _bounded_ring("drift", self.window, self.bucket_seconds)
        if self.evaluate_every is not None and not 60 <= self.evaluate_every <= 7200:
            raise ValueError("`evaluate_every` must be between 1m and 2h")
        return self

    @property
    def evaluation_interval(self) -> int:
        """Seconds of event time between evaluations in the flow (whole minutes, at most 2h)."""
        if self.evaluate_every is not None:
            return self.evaluate_every
        return min(7200, max(60, self.bucket_seconds // 60 * 60))

    @property
    def bucket_seconds(self) -> int:
        """Granularity of the current window (default window / 24, at least a second)."""
        return self.bucket or max(1, self.window // 24)

"""Prediction and Label: the two input messages of the public contract (CONTRACT.md).

Validation is strict about meaning and lenient about extras: unknown fields are kept (in
`model_extra`) and ignored; a value whose type would have to be guessed (a float class label,
"0.9" as a score, a timestamp without a zone) is rejected with the field named.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    WithJsonSchema,
    field_validator,
)

from schemas.timestamps import parse_event_time

# Bounds that keep one record from occupying unbounded memory in the join state.
MAX_ID_LENGTH = 256
MAX_NAME_LENGTH = 256
MAX_SEGMENT_KEYS = 32
MAX_FEATURES = 512
MAX_STRING_VALUE = 1024

EventTime = Annotated[
    float,
    BeforeValidator(parse_event_time),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
            "description": "Event time: RFC 3339 with a zone offset, or epoch seconds.",
        }
    ),
]
"""Epoch seconds, parsed from RFC 3339 or epoch seconds."""

ClassLabelField = StrictBool | StrictInt | StrictStr
"""A class label: bool, int or string, never coerced from another type."""

Name = Annotated[StrictStr, Field(min_length=1, max_length=MAX_NAME_LENGTH)]


# A label stands for 1 / review_probability predictions. Below this the weights' squares (in
# every window's sums) leave floating point; no review design samples one in a billion.
MIN_REVIEW_PROBABILITY = 1e-9


def _finite_unit_interval(value: float, *, allow_zero: bool) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    low_ok = value >= 0.0 if allow_zero else value > 0.0
    if not (low_ok and value <= 1.0):
        raise ValueError("must be in [0, 1]" if allow_zero else "must be in (0, 1]")
    return value


class _Event(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, str_max_length=MAX_STRING_VALUE * 4)


class Prediction(_Event):
    """One decision of the user's model (topic `predictions`)."""

    prediction_id: Annotated[StrictStr, Field(min_length=1, max_length=MAX_ID_LENGTH)]
    model_id: Name
    model_version: Name | None = None
    timestamp: EventTime
    predicted_label: ClassLabelField
    score: StrictFloat | StrictInt | None = None
    review_probability: StrictFloat | StrictInt = 1.0
    segment: dict[StrictStr, Annotated[StrictStr, Field(max_length=MAX_STRING_VALUE)]] = Field(
        default_factory=dict, max_length=MAX_SEGMENT_KEYS
    )
    features: dict[
        StrictStr,
        StrictFloat | StrictInt | Annotated[StrictStr, Field(max_length=MAX_STRING_VALUE)] | None,
    ] = Field(default_factory=dict, max_length=MAX_FEATURES)

    @field_validator("score")
    @classmethod
    def _score_in_unit_interval(cls, value: float | None) -> float | None:
        return None if value is None else _finite_unit_interval(float(value), allow_zero=True)

    @field_validator("review_probability")
    @classmethod
    def _probability_positive(cls, value: float) -> float:
        value = _finite_unit_interval(float(value), allow_zero=False)
        if value < MIN_REVIEW_PROBABILITY:
            raise ValueError(f"must be at least {MIN_REVIEW_PROBABILITY:g} (one label standing for "
                             "at most a billion predictions)")
        return value

    @field_validator("features")
    @classmethod
    def _features_finite(cls, value: dict) -> dict:
        for name, feature in value.items():
            if isinstance(feature, float) and not math.isfinite(feature):
                raise ValueError(f"feature {name!r} must be finite (NaN and infinity are not JSON)")
        return value


class Label(_Event):
    """The true class found by human review (topic `labels`)."""

    prediction_id: Annotated[StrictStr, Field(min_length=1, max_length=MAX_ID_LENGTH)]
    label: ClassLabelField
    timestamp: EventTime
    model_id: Name | None = None
    reviewer: Annotated[StrictStr, Field(max_length=MAX_NAME_LENGTH)] | None = None

"""What every block of the SLO file shares: the model base and the field types with their words.

slo/spec.py (the SLO file) and slo/drift/config.py (its ``drift:`` block) both build on these, so a
duration, a probability or a count is written and refused in the same words everywhere.

>>> class Example(SpecModel):
...     window: Duration = 3600
...     confidence: Probability = 0.9
...     bins: whole_number(2) = 10
>>> Example.model_validate({"window": "2h", "x-owner": "team-a"}).window   # x- keys are ignored
7200
>>> try:
...     Example.model_validate({"bins": 1})
... except ValueError as error:
...     print(error.errors()[0]["msg"])
Value error, must be a whole number of at least 2 (got 1)
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

from slo.durations import parse_duration


class SpecModel(BaseModel):
    """Frozen, strict about unknown keys (a typo'd option silently ignored is a monitor silently
    misconfigured), and blind to ``x-`` keys (room for other tools' annotations)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_extension_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
        return data

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle a spec pickled before some of its fields existed (a recovery snapshot holds
        the specs of its trackers): the missing fields take their defaults."""
        values = state.get("__dict__")
        if isinstance(values, dict):
            for name, info in type(self).model_fields.items():
                if name not in values:
                    values[name] = info.get_default(call_default_factory=True)
        super().__setstate__(state)


def _duration(value: Any) -> int:
    if not isinstance(value, str):
        raise ValueError(f"bad duration {value!r}: write it with a unit, like 5m, 1h or 3d")
    return parse_duration(value)


def _probability(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"must be a number between 0 and 1 (got {value!r})")
    if not 0.0 < float(value) < 1.0:
        raise ValueError(f"must be between 0 and 1 (got {value!r})")
    return float(value)


def whole_number(minimum: int) -> Any:
    """The type of an integer field of at least `minimum` (a boolean is not a number here)."""

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"must be a whole number of at least {minimum} (got {value!r})")
        return value

    return Annotated[int, BeforeValidator(check)]


Duration = Annotated[int, BeforeValidator(_duration)]          # seconds, written "5m", "1h", "30d"
Probability = Annotated[float, BeforeValidator(_probability)]  # strictly between 0 and 1

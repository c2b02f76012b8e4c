"""Bytes to validated events, with one readable reason when that fails.

The reason ends up in the dead-letter record, so it names the field and the problem in words an
on-call engineer can act on: `score: must be in [0, 1] (got 1.7)`.
"""

from __future__ import annotations

from typing import TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from schemas.events import Label, Prediction

# Larger messages are rejected before parsing: a record of the contract is a few KiB at most.
MAX_MESSAGE_BYTES = 256 * 1024

Event = TypeVar("Event", bound=BaseModel)


class DecodeError(ValueError):
    """A message that is not a valid event; str() is the reason for the dead-letter record."""


def decode_prediction(raw: bytes | None) -> Prediction:
    """Parse and validate one `predictions` message."""
    return _decode(raw, Prediction)


def decode_label(raw: bytes | None) -> Label:
    """Parse and validate one `labels` message."""
    return _decode(raw, Label)


def _decode(raw: bytes | None, model: type[Event]) -> Event:
    if raw is None:
        raise DecodeError("message has no value (tombstone)")
    if len(raw) > MAX_MESSAGE_BYTES:
        raise DecodeError(f"message is {len(raw)} bytes, over the {MAX_MESSAGE_BYTES} byte limit")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise DecodeError(f"not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise DecodeError(f"a {model.__name__} must be a JSON object, got {type(document).__name__}")
    try:
        return model.model_validate(document)
    except ValidationError as error:
        raise DecodeError(describe_validation_error(error)) from None


def describe_validation_error(error: ValidationError, limit: int = 3) -> str:
    """One line per problem (at most `limit`), each naming the field path.

    Pydantic reports one error per union member for `bool | int | str` fields; those are folded
    into one "must be a bool, int or string" line.
    """
    problems: list[str] = []
    seen_fields: set[str] = set()
    for item in error.errors(include_url=False):
        location = _field_path(item["loc"])
        if location in seen_fields:
            continue
        seen_fields.add(location)
        problems.append(f"{location}: {_problem(item)}")
    extra = len(problems) - limit
    text = "; ".join(problems[:limit])
    return text + (f" (and {extra} more)" if extra > 0 else "")


_UNION_MEMBER_NAMES = {"bool", "int", "str", "float", "none"}


def _field_path(location: tuple) -> str:
    # Drop pydantic's union-member markers ("bool", "str", "function-after[...]") from the path.
    parts = [str(part) for part in location if not _is_type_marker(part)]
    path = ""
    for part in parts:
        path += f"[{part}]" if part.isdigit() else (f".{part}" if path else part)
    return path or "(message)"


def _is_type_marker(part: object) -> bool:
    if not isinstance(part, str):
        return False
    base = part.split("[", 1)[0]
    return base in _UNION_MEMBER_NAMES or base.startswith("function-") or base in {
        "constrained-str", "json-or-python"
    }


def _problem(item: dict) -> str:
    kind = item["type"]
    given = item.get("input")
    shown = _short_repr(given)
    if kind == "missing":
        return "is required"
    if kind == "value_error":
        message = str(item.get("ctx", {}).get("error", item["msg"]))
        return f"{message} (got {shown})"
    if kind.endswith("_type") or kind in {"union_tag_invalid", "model_type", "dict_type"}:
        return f"has the wrong type {type(given).__name__} (got {shown})"
    return f"{item['msg'].lower()} (got {shown})"


def _short_repr(value: object, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."

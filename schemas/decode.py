"""Bytes to validated events, with one readable reason when that fails.

The reason ends up in the dead-letter record, so it names the field and the problem in words an
on-call engineer can act on: `score: must be in [0, 1] (got 1.7)`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from schemas.dead_letter import is_utf8
from schemas.events import (
    MAX_ID_LENGTH,
    MAX_NAME_LENGTH,
    MAX_SEGMENT_KEYS,
    MAX_STRING_VALUE,
    MAX_FEATURES,
    MIN_REVIEW_PROBABILITY,
    Label,
    Prediction,
)
from schemas.joined import ClassLabel
from schemas.timestamps import event_time_or_reason

# Larger messages are rejected before parsing: a record of the contract is a few KiB at most.
MAX_MESSAGE_BYTES = 256 * 1024
# A dead-letter reason words this many problems and counts the rest: the model's and the hand
# checks' reasons must agree word for word.
SHOWN_PROBLEMS = 3

Event = TypeVar("Event", bound=BaseModel)
_JSON_WHITESPACE = (b" ", b"\t", b"\n", b"\r")


class DecodeError(ValueError):
    """A message that is not a valid event; str() is the reason for the dead-letter record."""


def decode_prediction(raw: bytes | None) -> Prediction:
    """Parse and validate one `predictions` message."""
    return _decode(raw, Prediction)


def decode_label(raw: bytes | None) -> Label:
    """Parse and validate one `labels` message."""
    return _decode(raw, Label)


def _decode(raw: bytes | None, model: type[Event]) -> Event:
    document = _document_or_reason(raw, model)
    event = document if type(document) is str else _validated_or_reason(document, model)
    if type(event) is str:
        raise DecodeError(event)
    return event


def _validated_or_reason(document: dict, model: type[Event]) -> Event | str:
    """The model's verdict on a parsed document: the event, or its dead-letter reason."""
    try:
        return model.model_validate(document)
    except ValidationError as error:
        return describe_validation_error(error)


def _document_or_reason(raw: bytes | None, model: type[BaseModel], worded: bool = True) -> dict | str:
    """The parsed JSON object, or why there is none.

    Junk floods are mostly messages that show they are no JSON object without parsing (a failed
    parse costs ~2 us): those are told first.

    >>> _document_or_reason(b"garbage 0123", Prediction)
    "a Prediction must be a JSON object; the message starts with b'garbage 0123'"
    >>> _document_or_reason(b' {"prediction_id": "a"}', Prediction)   # whitespace may start an object
    {'prediction_id': 'a'}
    """
    if raw is None:
        return "message has no value (tombstone)"
    if len(raw) > MAX_MESSAGE_BYTES:
        return f"message is {len(raw)} bytes, over the {MAX_MESSAGE_BYTES} byte limit"
    first = raw[:1]
    if first != b"{" and first not in _JSON_WHITESPACE:   # not a JSON object, whatever else it is
        if not raw:
            return "message is empty"
        if not worded:
            return UNWORDED
        return f"a {model.__name__} must be a JSON object; the message starts with {_short_repr(raw, 40)}"
    if not raw.isascii() and not is_utf8(raw):   # no call for ASCII, which nearly every record is
        return "not valid JSON: the message is not valid UTF-8"
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        return f"not valid JSON: {error}"
    if type(document) is not dict:
        return f"a {model.__name__} must be a JSON object, got {type(document).__name__}"
    return document


# --- the flow's fast path ------------------------------------------------------------------------
#
# The monitor decodes every message but keeps only a few fields of it. Building and validating a
# pydantic model costs ~6 us per prediction, most of the flow's decoding time; checking the
# usual, plainly valid record by hand costs ~1.5 us. The hand checks below are deliberately
# narrower than the models: they accept a document only when the model surely accepts it too,
# with the same values, and hand anything else (every invalid record, and valid but unusual
# ones) to the model, which gives the verdict and the dead-letter reason exactly as before.
# tests/schemas/test_fast_decode.py checks that one-way agreement on generated documents.


class PredictionFields(NamedTuple):
    """What the monitor keeps of a valid Prediction (features and unknown fields are dropped)."""

    prediction_id: str
    model_id: str
    model_version: str | None
    timestamp: float
    predicted_label: ClassLabel
    score: float | None
    review_probability: float
    segment: dict[str, str]


class LabelFields(NamedTuple):
    """What the monitor keeps of a valid Label."""

    prediction_id: str
    label: ClassLabel
    timestamp: float
    model_id: str | None
    reviewer: str | None


def prediction_or_reason(
    raw: bytes | None, wanted: Callable[[str], bool] | None = None, worded: bool = True
) -> tuple[PredictionFields, Prediction | None] | str:
    """What the flow decodes of a predictions message, with `decode_prediction`'s verdict: its
    fields, and the whole `Prediction` when `wanted(model_id)`; or the model's reason for
    rejecting it, returned rather than raised (a flood of junk pays for no exception).

    With `worded=False` a message the model surely rejects (not a JSON object by its first byte, or
    a required field missing or of the wrong JSON type) may come back as `UNWORDED` instead of its
    reason: the flow only needs the verdict, and its dead-letter writer words the reason in another
    process.

    One parse serves both. A document the fast checks accepted is valid, so its `Prediction` is
    built without validating it again (`trusted_prediction`, a third of the cost).

    >>> fields, details = prediction_or_reason(b'{"prediction_id": "a", "model_id": "m", '
    ...                                         b'"timestamp": 1795690800, "predicted_label": 1, "score": 1}')
    >>> fields.timestamp, fields.score, fields.review_probability, fields.segment, details
    (1795690800.0, 1.0, 1.0, {}, None)
    >>> prediction_or_reason(b'{"prediction_id": "a"}')
    'model_id: is required; timestamp: is required; predicted_label: is required'
    """
    document = _document_or_reason(raw, Prediction, worded)
    if type(document) is str:
        return document
    fields = plain_prediction(document)
    if fields is None:
        prediction = _unusual_or_reason(document, Prediction, worded)
        if type(prediction) is str:
            return prediction
        wanted_whole = wanted is not None and wanted(prediction.model_id)
        return prediction_fields_of(prediction), (prediction if wanted_whole else None)
    if type(fields) is str:
        return fields
    return fields, (trusted_prediction(document, fields) if wanted is not None and wanted(fields.model_id) else None)


def trusted_prediction(document: dict, fields: PredictionFields) -> Prediction:
    """The `Prediction` of a document `plain_prediction` accepted, equal to what validation gives
    (tests/schemas/test_fast_decode.py), without validating it again."""
    values = dict(document)
    values["timestamp"] = fields.timestamp
    for name in ("score", "review_probability"):   # validation makes numbers floats
        if name in values:
            values[name] = getattr(fields, name)
    # Validation counts unknown (extra) fields as set too; model_construct would not by itself.
    return Prediction.model_construct(_fields_set=set(values), **values)


def label_or_reason(raw: bytes | None, worded: bool = True) -> LabelFields | str:
    """The fields the monitor uses of a labels message, with `decode_label`'s verdict; or the
    model's reason for rejecting it (`UNWORDED` allowed as in `prediction_or_reason`)."""
    document = _document_or_reason(raw, Label, worded)
    if type(document) is str:
        return document
    fields = plain_label(document)
    if fields is None:
        label = _unusual_or_reason(document, Label, worded)
        return label if type(label) is str else label_fields_of(label)
    return fields


def prediction_fields_of(p: Prediction) -> PredictionFields:
    return PredictionFields(p.prediction_id, p.model_id, p.model_version, p.timestamp, p.predicted_label,
                            None if p.score is None else float(p.score), float(p.review_probability), p.segment)


def label_fields_of(label: Label) -> LabelFields:
    return LabelFields(label.prediction_id, label.label, label.timestamp, label.model_id, label.reviewer)


_LONGEST_STRING = MAX_STRING_VALUE * 4   # the models' str_max_length, for every string they check

# Builds a NamedTuple from a tuple of all its fields without its Python-level __new__: a third of
# the cost, and the flow builds a few per event.
_tuple_new = tuple.__new__


def plain_prediction(document: dict) -> PredictionFields | str | None:
    """The fields of a plainly valid prediction document, or None to let the model decide; the
    model's reason (a str) when the timestamp is the only problem."""
    get = document.get
    try:
        prediction_id = document["prediction_id"]
        model_id = document["model_id"]
        model_version = get("model_version")
        predicted_label = document["predicted_label"]
        score = get("score")
        review_probability = get("review_probability", 1.0)
        segment = get("segment", _MISSING)
        features = get("features", _MISSING)
        kind = type(predicted_label)
        if not (type(prediction_id) is str and 0 < len(prediction_id) <= MAX_ID_LENGTH
                and type(model_id) is str and 0 < len(model_id) <= MAX_NAME_LENGTH
                and (model_version is None
                     or (type(model_version) is str and 0 < len(model_version) <= MAX_NAME_LENGTH))
                and (kind is int or kind is bool or (kind is str and len(predicted_label) <= _LONGEST_STRING))):
            return None
        if score is not None:
            kind = type(score)
            if kind is not float and kind is not int:
                return None
            score = float(score)
            if not 0.0 <= score <= 1.0:
                return None
        kind = type(review_probability)
        if kind is not float and kind is not int:
            return None
        review_probability = float(review_probability)
        if not MIN_REVIEW_PROBABILITY <= review_probability <= 1.0:
            return None
        if segment is _MISSING:
            segment = {}
        elif type(segment) is not dict or len(segment) > MAX_SEGMENT_KEYS:
            return None
        else:
            for key, value in segment.items():
                if len(key) > _LONGEST_STRING or type(value) is not str or len(value) > MAX_STRING_VALUE:
                    return None
        if features is not _MISSING and not _plain_features(features):
            return None
        timestamp = _timestamp_of_plain(document)
    except Exception:  # noqa: BLE001 - whatever it is, the model gives the verdict and the reason
        return None
    if type(timestamp) is str:
        return timestamp
    return _tuple_new(PredictionFields, (prediction_id, model_id, model_version, timestamp, predicted_label, score,
                                         review_probability, segment))


def plain_label(document: dict) -> LabelFields | str | None:
    """The fields of a plainly valid label document, or None to let the model decide (or its reason,
    like `plain_prediction`)."""
    try:
        prediction_id = document["prediction_id"]
        label = document["label"]
        model_id = document.get("model_id")
        reviewer = document.get("reviewer")
        if not (_is_id(prediction_id) and _is_class_label(label) and (model_id is None or _is_name(model_id))):
            return None
        if reviewer is not None and (type(reviewer) is not str or len(reviewer) > MAX_NAME_LENGTH):
            return None
        timestamp = _timestamp_of_plain(document)
    except Exception:  # noqa: BLE001
        return None
    if type(timestamp) is str:
        return timestamp
    return _tuple_new(LabelFields, (prediction_id, label, timestamp, model_id, reviewer))


def _timestamp_of_plain(document: dict) -> float | str:
    """The event time of a document whose other fields are plainly valid; when it does not parse,
    it is the model's only problem, so this is the model's reason (`_timestamp`)."""
    value = document["timestamp"]
    seconds = event_time_or_reason(value)
    return f"timestamp: {_bad_value(seconds, value)}" if type(seconds) is str else seconds


_MISSING: dict = {}   # a missing "segment" or "features" (null is not allowed for either)


# --- the flow's fast rejection -------------------------------------------------------------------
#
# Junk is mostly documents with fields missing or of the wrong JSON type. Validating such a document
# and wording pydantic's errors costs ~9 us, most of a junk record's cost. When every problem of a
# document is of that kind (or a timestamp that does not parse), the reason is worded here exactly as
# `describe_validation_error` words the model's errors; any other problem, or any doubt, leaves the
# verdict to the model. tests/schemas/test_fast_decode.py checks the reasons agree on generated
# documents, and the fuzzing harness (tests/reliability/fuzz_decoders.py) on random ones.


class _Unsure(Exception):
    """A field the hand checks cannot judge: the model decides."""


def _unusual_or_reason(document: dict, model: type[Event], worded: bool = True) -> Event | str:
    """Validate a document the fast checks did not accept, or say why not (fast when it is plain junk;
    `UNWORDED` when not `worded` and a required field is missing or of the wrong JSON type)."""
    if not worded and surely_rejected(document, model):
        return UNWORDED
    reason = plain_problems(document, model)
    return reason if reason is not None else _validated_or_reason(document, model)


# The verdict on a record the model surely rejects, when its reason is worded elsewhere.
UNWORDED = "rejected; the reason is worded where the dead letter is written"


def surely_rejected(document: dict, model: type[BaseModel]) -> bool:
    """Whether a required field of `document` is missing or of a JSON type the model never accepts:
    then the model surely rejects it, whatever the other fields hold. Wording why takes
    `plain_problems` ~7 us more; this answer alone ~0.5 us.

    >>> surely_rejected({"prediction_id": 12, "model_id": "m"}, Prediction)
    True
    >>> surely_rejected({"prediction_id": "a", "model_id": "m", "timestamp": 1, "predicted_label": 1}, Prediction)
    False
    """
    for name, types, nullable in _REQUIRED_TYPES[model]:
        if name not in document:
            return True
        value = document[name]
        if types is not None and type(value) not in types and (value is not None or not nullable):
            return True
    return False


def plain_problems(document: dict, model: type[BaseModel], limit: int = SHOWN_PROBLEMS) -> str | None:
    """The model's dead-letter reason for a document whose only problems are missing fields, values of
    the wrong JSON type or timestamps that do not parse; None when it has none or any other.

    Every field is checked (one the checks cannot judge leaves the verdict to the model), but only the
    first `limit` problems are worded, as `describe_validation_error` does.

    >>> plain_problems({"prediction_id": 12, "timestamp": "2026-11-26"}, Label)
    "prediction_id: has the wrong type int (got 12); label: is required; timestamp: timestamp has no time \
zone offset (RFC 3339 needs 'Z' or '+hh:mm') (got '2026-11-26')"
    >>> plain_problems({"prediction_id": "", "label": 1, "timestamp": 1795690800}, Label) is None  # the model words it
    True
    """
    problems: list[tuple[str, str | None, Any]] = []   # (field, what is wrong, value); None: missing
    try:
        for name, required, types, nullable, check in _FIELD_RULES[model]:
            if name not in document:   # (`in`, then `[]`: cheaper than `.get`, a method call)
                if required:
                    problems.append((name, None, None))
                continue
            value = document[name]
            if types is None or type(value) in types:   # of the right type: is its value plain?
                problem = check(value)
                if problem is not None:
                    problems.append((name, problem, value))
            elif value is not None or not nullable:
                problems.append((name, _WRONG_TYPE, value))
    except _Unsure:
        return None
    if not problems:
        return None
    return _reason([_worded(name, problem, value) for name, problem, value in problems[:limit]], len(problems))


# A value of the wrong JSON type; its type and the value itself are worded only for the problems a
# reason shows.
_WRONG_TYPE = "has the wrong type"


def _worded(name: str, problem: str | None, value: Any) -> str:
    """One problem as `describe_validation_error` words it (`_problem`)."""
    if problem is None:
        return f"{name}: is required"
    return f"{name}: {_wrong_type(value) if problem is _WRONG_TYPE else _bad_value(problem, value)}"


def _wrong_type(value: Any) -> str:
    return f"{_WRONG_TYPE} {_type_name(value)} (got {_short_repr(value)})"


def _bad_value(message: str, value: Any) -> str:
    return f"{message} (got {_short_repr(value)})"


# The names of JSON's types, looked up (`type(value).__name__` builds a new str for a built-in type).
_TYPE_NAMES = {kind: kind.__name__ for kind in (str, int, float, bool, list, dict, type(None))}


def _type_name(value: Any) -> str:
    kind = type(value)
    return _TYPE_NAMES.get(kind) or kind.__name__


# Checks of a value of a field's JSON type: None when the model surely accepts it, the model's problem
# with it, or _Unsure (the model decides).


def _length(longest: int, shortest: int = 1) -> Callable[[str], None]:
    def check(value: str) -> None:
        if not shortest <= len(value) <= longest:
            raise _Unsure
    return check


def _class_label(value: bool | int | str) -> None:
    if type(value) is str and len(value) > _LONGEST_STRING:
        raise _Unsure


def _fraction(lowest: float) -> Callable[[float | int], None]:
    def check(value: float | int) -> None:
        if not lowest <= float(value) <= 1.0:
            raise _Unsure
    return check


def _segment(value: dict) -> None:
    if len(value) > MAX_SEGMENT_KEYS or not all(
        len(key) <= _LONGEST_STRING and type(item) is str and len(item) <= MAX_STRING_VALUE
        for key, item in value.items()
    ):
        raise _Unsure


def _features(value: dict) -> None:
    if not _plain_features(value):
        raise _Unsure


def _timestamp(value: Any) -> str | None:
    """Any JSON value: the model's reason when it is not an event time (its own wording for wrong types)."""
    try:
        seconds = event_time_or_reason(value)
    except Exception:   # noqa: BLE001 - not the model's value_error (an int too big for a float): let it word it
        raise _Unsure from None
    return seconds if type(seconds) is str else None


_TEXT = (str,)
_NUMBER = (float, int)          # not bool: the models refuse a boolean number
_CLASS_LABEL = (bool, int, str)
_OBJECT = (dict,)

# (field, required, JSON types it may have (None: any, the check words it), null allowed, check of a
# value of those types), in the models' field order, which is the order of their errors.
_FIELD_RULES: dict[type[BaseModel], tuple] = {
    Prediction: (
        ("prediction_id", True, _TEXT, False, _length(MAX_ID_LENGTH)),
        ("model_id", True, _TEXT, False, _length(MAX_NAME_LENGTH)),
        ("model_version", False, _TEXT, True, _length(MAX_NAME_LENGTH)),
        ("timestamp", True, None, False, _timestamp),
        ("predicted_label", True, _CLASS_LABEL, False, _class_label),
        ("score", False, _NUMBER, True, _fraction(0.0)),
        ("review_probability", False, _NUMBER, False, _fraction(MIN_REVIEW_PROBABILITY)),
        ("segment", False, _OBJECT, False, _segment),
        ("features", False, _OBJECT, False, _features),
    ),
    Label: (
        ("prediction_id", True, _TEXT, False, _length(MAX_ID_LENGTH)),
        ("label", True, _CLASS_LABEL, False, _class_label),
        ("timestamp", True, None, False, _timestamp),
        ("model_id", False, _TEXT, True, _length(MAX_NAME_LENGTH)),
        ("reviewer", False, _TEXT, True, _length(MAX_NAME_LENGTH, shortest=0)),
    ),
}


# Each model's required fields, the JSON types they may have (None: any, the check decides) and
# whether null is allowed.
_REQUIRED_TYPES: dict[type[BaseModel], tuple[tuple[str, tuple | None, bool], ...]] = {
    model: tuple((name, types, nullable) for name, required, types, nullable, _check in rules if required)
    for model, rules in _FIELD_RULES.items()
}


def _is_id(value: Any) -> bool:
    return type(value) is str and 0 < len(value) <= MAX_ID_LENGTH


def _is_name(value: Any) -> bool:
    return type(value) is str and 0 < len(value) <= MAX_NAME_LENGTH


def _is_class_label(value: Any) -> bool:
    kind = type(value)
    return kind is bool or kind is int or (kind is str and len(value) <= _LONGEST_STRING)


def _plain_features(features: Any) -> bool:
    if type(features) is not dict or len(features) > MAX_FEATURES:
        return False
    for name, value in features.items():
        kind = type(value)
        if len(name) > _LONGEST_STRING:
            return False
        if kind is float:
            if not math.isfinite(value):
                return False
        elif not (value is None or kind is int or (kind is str and len(value) <= MAX_STRING_VALUE)):
            return False
    return True


def describe_validation_error(error: ValidationError, limit: int = SHOWN_PROBLEMS) -> str:
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
        # only the shown problems are worded (a flood of junk makes this a hot path)
        problems.append(f"{location}: {_problem(item)}" if len(problems) < limit else location)
    return _reason(problems[:limit], len(problems))


def _reason(shown: list[str], total: int) -> str:
    """The problems shown, and how many more there are of `total`."""
    extra = total - len(shown)
    return "; ".join(shown) + (f" (and {extra} more)" if extra > 0 else "")


_UNION_MEMBER_NAMES = {"bool", "int", "str", "float", "none"}


@functools.lru_cache(maxsize=4096)   # a flood of junk repeats a few paths; keeps dead-lettering cheap
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
    if kind == "missing":
        return "is required"
    if kind == "value_error":
        return _bad_value(str(item.get("ctx", {}).get("error", item["msg"])), given)
    if kind.endswith("_type") or kind in {"union_tag_invalid", "model_type", "dict_type"}:
        return _wrong_type(given)
    return _bad_value(item["msg"].lower(), given)


def _short_repr(value: object, width: int = 60) -> str:
    """`repr(value)`, cut to `width` characters; a long string or bytes is cut before `repr`, as
    junk can be large (only its first `width` characters are shown anyway).

    >>> _short_repr(b"x" * 100, 10), _short_repr("ab", 10)
    ("b'xxxx...", "'ab'")
    """
    if type(value) is bytes or type(value) is str:
        value = value[:width]
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."

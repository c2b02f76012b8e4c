"""Prediction and Label decoding per CONTRACT.md, and the dead-letter record."""

from __future__ import annotations

import base64
import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.dead_letter import MAX_RAW_KEPT, dead_letter_json, is_utf8
from schemas.decode import MAX_MESSAGE_BYTES, DecodeError, decode_label, decode_prediction
from schemas.json_schema import SCHEMA_DIR, generated_schemas, render

FULL_PREDICTION = {
    "prediction_id": "tx-1",
    "model_id": "fraud-detector",
    "model_version": "5",
    "timestamp": "2026-11-26T12:00:00.250+01:00",
    "predicted_label": True,
    "score": 0.97,
    "review_probability": 0.25,
    "segment": {"country": "US"},
    "features": {"amount": 120.5, "merchant": "acme", "age": None},
    "trace_id": "kept-and-ignored",
}


def test_full_prediction_decodes_with_every_contract_field():
    prediction = decode_prediction(orjson.dumps(FULL_PREDICTION))
    assert prediction.timestamp == 1795690800.25
    assert prediction.predicted_label is True and prediction.score == 0.97
    assert prediction.review_probability == 0.25 and prediction.segment == {"country": "US"}
    assert prediction.features["age"] is None
    assert prediction.model_extra == {"trace_id": "kept-and-ignored"}


def test_minimal_prediction_gets_contract_defaults():
    prediction = decode_prediction(b'{"prediction_id":"a","model_id":"m","timestamp":1795690800,"predicted_label":"fraud"}')
    assert prediction.review_probability == 1.0 and prediction.model_version is None
    assert prediction.segment == {} and prediction.features == {} and prediction.score is None


@pytest.mark.parametrize("value", [True, 0, 7, "fraud"])
def test_class_labels_may_be_bool_int_or_string(value):
    label = decode_label(orjson.dumps({"prediction_id": "a", "label": value, "timestamp": 1795690800}))
    assert label.label == value and type(label.label) is type(value)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"prediction_id": ""}, "prediction_id: string should have at least 1 character"),
        ({"prediction_id": "x" * 257}, "prediction_id: string should have at most 256 characters"),
        ({"timestamp": "yesterday"}, "timestamp: timestamp 'yesterday' is not RFC 3339"),
        ({"timestamp": "2026-11-26T12:00:00"}, "timestamp: timestamp has no time zone offset"),
        ({"timestamp": 1795690800000}, "milliseconds sent as seconds?"),
        ({"predicted_label": 0.5}, "predicted_label: has the wrong type float"),
        ({"predicted_label": None}, "predicted_label: has the wrong type NoneType"),
        ({"score": 1.01}, "score: must be in [0, 1]"),
        ({"score": "0.9"}, "score: has the wrong type str"),
        ({"review_probability": 0}, "review_probability: must be in (0, 1]"),
        ({"review_probability": 1e-300}, "review_probability: must be at least 1e-09"),   # w*w overflows
        ({"segment": {"country": 1}}, "segment.country: has the wrong type int"),
        ({"features": {"x": [1]}}, "features.x: has the wrong type list"),
        ({"model_id": 5}, "model_id: has the wrong type int"),
    ],
)
def test_invalid_prediction_names_field_and_problem(change, reason):
    with pytest.raises(DecodeError) as caught:
        decode_prediction(orjson.dumps({**FULL_PREDICTION, **change}))
    assert reason in str(caught.value)


def test_missing_required_field_is_named():
    body = {key: value for key, value in FULL_PREDICTION.items() if key != "model_id"}
    with pytest.raises(DecodeError, match="^model_id: is required$"):
        decode_prediction(orjson.dumps(body))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "tombstone"),
        (b"", "message is empty"),
        (b"\xff\xfe", r"^a Label must be a JSON object; the message starts with b'\\xff\\xfe'$"),
        (b"[1]", "^a Label must be a JSON object; the message starts with b'\\[1\\]'$"),
        (b" [1]", "^a Label must be a JSON object, got list$"),
        (b"not JSON at all", "^a Label must be a JSON object; the message starts with b'not JSON at all'$"),
        (b"{not JSON", "^not valid JSON: "),
        (b'{"prediction_id": "a", "label": NaN, "timestamp": 1}', "not valid JSON"),
        (b"[" * 2000 + b"]" * 2000, "must be a JSON object; the message starts with b'\\[\\[\\[\\[\\[.*\\.\\.\\.$"),
        (b"\n" + b"[" * 2000 + b"]" * 2000, "not valid JSON"),
        (b" " * (MAX_MESSAGE_BYTES + 1), "over the 262144 byte limit"),
    ],
)
def test_undecodable_messages_have_a_reason(raw, reason):
    with pytest.raises(DecodeError, match=reason.replace("(", r"\(").replace("?", r"\?")):
        decode_label(raw)


def test_nan_feature_from_a_lenient_producer_is_rejected():
    # orjson refuses NaN in JSON text; a Python dict validated directly must refuse it too.
    from schemas.events import Prediction

    with pytest.raises(ValueError, match="must be finite"):
        Prediction.model_validate({**FULL_PREDICTION, "features": {"x": float("nan")}})


def test_dead_letter_keeps_text_or_base64_and_truncates_huge_messages():
    text = orjson.loads(dead_letter_json("predictions", 2, 41, "not valid JSON", b"{oops"))
    assert text == {"topic": "predictions", "partition": 2, "offset": 41, "error": "not valid JSON", "raw": "{oops"}
    binary = orjson.loads(dead_letter_json("labels", 0, 1, "bad", b"\xff\x00"))
    assert binary["raw_encoding"] == "base64" and base64.b64decode(binary["raw"]) == b"\xff\x00"
    utf8 = orjson.loads(dead_letter_json("labels", 0, 2, "bad", "naïve".encode()))
    assert utf8["raw"] == "naïve" and "raw_encoding" not in utf8
    huge = orjson.loads(dead_letter_json("labels", 0, 3, "too big", b"a" * (MAX_RAW_KEPT + 10)))
    assert len(huge["raw"]) == MAX_RAW_KEPT and huge["raw_truncated_from"] == MAX_RAW_KEPT + 10
    huge_binary = orjson.loads(dead_letter_json("labels", 0, 4, "too big", b"\xff" * (MAX_RAW_KEPT + 1)))
    assert base64.b64decode(huge_binary["raw"]) == b"\xff" * MAX_RAW_KEPT
    assert huge_binary["raw_truncated_from"] == MAX_RAW_KEPT + 1 and huge_binary["raw_encoding"] == "base64"
    tombstone = orjson.loads(dead_letter_json("labels", 0, 5, "message has no value (tombstone)", None))
    assert tombstone["raw"] is None and set(tombstone) == {"topic", "partition", "offset", "error", "raw"}


def test_committed_json_schemas_are_current():
    for name, document in generated_schemas().items():
        committed = (SCHEMA_DIR / name).read_bytes()
        assert committed == render(document), f"{name} is stale: run `python -m schemas.json_schema`"


def test_json_schema_describes_the_contract_fields():
    prediction = json.loads((SCHEMA_DIR / "prediction.schema.json").read_text())
    assert set(prediction["required"]) == {"prediction_id", "model_id", "timestamp", "predicted_label"}
    assert prediction["additionalProperties"] is True
    label = json.loads((SCHEMA_DIR / "label.schema.json").read_text())
    assert set(label["required"]) == {"prediction_id", "label", "timestamp"}


@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.binary(max_size=40), st.text(max_size=20).map(str.encode),
                 st.lists(st.sampled_from([b"\xef\xbf\xbd", b"\xed\xa0\x80", b"\xe0", b"\xc3\xa9", b"a", b"\xf4\x90\x80\x80",
                                           b"\xc0\xaf", b"\xef\xbf"]), max_size=6).map(b"".join)))
def test_is_utf8_agrees_with_strict_decoding(raw):
    try:
        raw.decode("utf-8")
        strict = True
    except UnicodeDecodeError:
        strict = False
    assert is_utf8(raw) is strict

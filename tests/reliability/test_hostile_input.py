"""Hostile input: whatever bytes arrive, decoding ends in a valid event or a reason, never a crash.

Each rejected record goes to the dead-letter topic with that reason (tests/flows cover the
routing); here the decoders themselves are attacked.
"""

from __future__ import annotations

import json
import math

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.dead_letter import MAX_RAW_KEPT, dead_letter_json
from schemas.decode import MAX_MESSAGE_BYTES, DecodeError, decode_label, decode_prediction
from schemas.events import MAX_FEATURES, MAX_ID_LENGTH

DECODERS = [decode_prediction, decode_label]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)
field_names = st.sampled_from(["prediction_id", "model_id", "model_version", "timestamp", "predicted_label",
                               "score", "review_probability", "segment", "features", "label", "reviewer"])


def decode_or_reason(decoder, raw: bytes | None) -> None:
    try:
        event = decoder(raw)
    except DecodeError as error:
        assert str(error), "a rejection always has a reason"
        assert len(str(error)) < 2000, "the reason is bounded"
        return
    assert math.isfinite(event.timestamp)
    assert 1 <= len(event.prediction_id) <= MAX_ID_LENGTH


@pytest.mark.parametrize("decoder", DECODERS)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=2000))
def test_random_bytes(decoder, raw):
    decode_or_reason(decoder, raw)


@pytest.mark.parametrize("decoder", DECODERS)
@settings(max_examples=400, deadline=None)
@given(document=st.dictionaries(field_names, json_values, max_size=11))
def test_contract_fields_with_random_values(decoder, document):
    decode_or_reason(decoder, json.dumps(document).encode())  # json: integers of any size


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[" * 150_000 + b"]" * 150_000, "over the"),             # deep nesting, also too big
        (b"[" * 5000 + b"]" * 5000, "must be a JSON object"),       # deep nesting within size
        (b"\t" + b"[" * 5000 + b"]" * 5000, "not valid JSON"),      # the same, parsed (depth limit)
        (b'{"prediction_id": "' + b"x" * 300_000 + b'"}', "over the"),
        (b'{"prediction_id": "a", "label": 1, "timestamp": Infinity}', "not valid JSON"),
        (b'{"prediction_id": "a", "label": 1, "timestamp": 1e400}', "not valid JSON"),
        (b'{"prediction_id": "a", "label": 1, "timestamp": "9999-12-31T23:59:59Z"}', "outside 2000-01-01"),
        (b'{"prediction_id": "a", "label": 1, "timestamp": -1}', "outside 2000-01-01"),
        (b'{"prediction_id": "a", "label": 1, "timestamp": "2026-11-26T12:00:00+25:00"}', "not RFC 3339"),
        (b'{"prediction_id": "\xed\xa0\x80", "label": 1, "timestamp": 1790000000}', "not valid JSON"),
        (b'{"prediction_id": ["a"], "label": 1, "timestamp": 1790000000}', "prediction_id: has the wrong type list"),
    ],
)
def test_named_attacks_are_rejected_with_a_reason(raw, reason):
    with pytest.raises(DecodeError, match=reason):
        decode_label(raw)


def test_field_limits_bound_the_memory_one_record_can_take():
    many_features = {f"f{i}": 1.0 for i in range(MAX_FEATURES + 1)}
    body = {"prediction_id": "a", "model_id": "m", "timestamp": 1790000000, "predicted_label": 1,
            "features": many_features}
    with pytest.raises(DecodeError, match="features"):
        decode_prediction(orjson.dumps(body))
    long_segment = {**body, "features": {}, "segment": {"country": "x" * 5000}}
    with pytest.raises(DecodeError, match="segment.country"):
        decode_prediction(orjson.dumps(long_segment))


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=MAX_RAW_KEPT * 2) | st.none())
def test_every_rejected_record_makes_a_valid_dead_letter(raw):
    record = orjson.loads(dead_letter_json("predictions", 0, 1, "reason", raw))
    assert set(record) >= {"topic", "partition", "offset", "error", "raw"}
    assert raw is None or len(record["raw"]) <= 4 * MAX_RAW_KEPT // 3 + 4


def test_message_size_limit_is_checked_before_parsing():
    assert MAX_MESSAGE_BYTES == 256 * 1024

"""The flow's fast decoding path agrees with the pydantic models it short-cuts.

`plain_prediction` / `plain_label` may refuse a document the models accept (the model then
decides), but must never accept one the models reject, nor read different values from it.
"""

from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.decode import (
    UNWORDED,
    DecodeError,
    decode_label,
    decode_prediction,
    describe_validation_error,
    label_fields_of,
    label_or_reason,
    plain_label,
    plain_prediction,
    plain_problems,
    prediction_fields_of,
    prediction_or_reason,
    surely_rejected,
    trusted_prediction,
)
from schemas.events import Label, Prediction

# Values near every boundary of the contract, of every JSON type.
_strings = st.one_of(
    st.sampled_from(["", "a", "US", "x" * 256, "x" * 257, "y" * 1024, "y" * 1025, "z" * 4097]),
    st.text(max_size=8),
)
_numbers = st.one_of(
    st.sampled_from([0, 1, 2, -1, 0.0, 1.0, 0.5, 1.0000001, -0.0, 1e-300, 2**63 - 1, 1795690800,
                     1795690800.5, 946684799, 4102444800, 1795690800000]),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
)
_scalars = st.one_of(st.none(), st.booleans(), _numbers, _strings)
_timestamps = st.one_of(
    st.sampled_from(["2026-11-26T12:00:00Z", "2026-11-26T12:00:00.250+01:00", "2026-11-26T12:00:00",
                     "2026-11-26", "yesterday", "2026-11-26T12:00:00+25:00", "9999-12-31T23:59:59-23:59",
                     "2026-11-26 12:00:00Z", "20261126T120000Z", "2026-W48-4T12:00Z" + "0" * 30]),
    _scalars,
)
_maps = st.dictionaries(_strings, st.one_of(_scalars, st.lists(st.integers(), max_size=2)), max_size=4)
_segments = st.one_of(_maps, st.dictionaries(st.text(max_size=4), st.text(max_size=4), min_size=30, max_size=34),
                      _scalars)
_features = st.one_of(_maps, st.dictionaries(st.text(max_size=3), st.integers(), min_size=510, max_size=514),
                      _scalars)


def _maybe(strategy):
    """A field that may be missing (None from the outer draw means: leave it out)."""
    return st.one_of(st.just(_MISSING), strategy)


_MISSING = object()


@st.composite
def prediction_documents(draw) -> dict:
    fields = {
        "prediction_id": draw(_maybe(_strings)),
        "model_id": draw(_maybe(_strings)),
        "model_version": draw(_maybe(st.one_of(st.none(), _strings, _numbers))),
        "timestamp": draw(_maybe(_timestamps)),
        "predicted_label": draw(_maybe(_scalars)),
        "score": draw(_maybe(st.one_of(st.none(), _numbers, _strings, st.booleans()))),
        "review_probability": draw(_maybe(st.one_of(_numbers, st.none(), st.booleans(), _strings))),
        "segment": draw(_maybe(_segments)),
        "features": draw(_maybe(_features)),
        "extra_field": draw(_maybe(_scalars)),
    }
    return {key: value for key, value in fields.items() if value is not _MISSING}


@st.composite
def label_documents(draw) -> dict:
    fields = {
        "prediction_id": draw(_maybe(_strings)),
        "label": draw(_maybe(_scalars)),
        "timestamp": draw(_maybe(_timestamps)),
        "model_id": draw(_maybe(st.one_of(st.none(), _strings, _numbers))),
        "reviewer": draw(_maybe(st.one_of(st.none(), _strings, _numbers))),
        "extra_field": draw(_maybe(_scalars)),
    }
    return {key: value for key, value in fields.items() if value is not _MISSING}


_VALID_PREDICTION = {"prediction_id": "tx-1", "model_id": "m", "model_version": "5",
                     "timestamp": "2026-11-26T12:00:00.250+01:00", "predicted_label": 1, "score": 0.5,
                     "review_probability": 0.25, "segment": {"country": "US"},
                     "features": {"amount": 1.5, "n": 2, "kind": "a", "none": None}}
_VALID_LABEL = {"prediction_id": "tx-1", "label": True, "timestamp": 1795690800, "model_id": "m",
                "reviewer": "r"}


@st.composite
def near_valid(draw, valid: dict, documents) -> dict:
    """A valid document with one or two fields changed to (or dropped for) a drawn value."""
    drawn = draw(documents)
    document = dict(valid)
    for key in draw(st.sets(st.sampled_from(sorted(valid)), min_size=1, max_size=2)):
        if key in drawn:
            document[key] = drawn[key]
        else:
            del document[key]
    return document


def _same(fast: tuple, slow: tuple) -> None:
    assert fast == slow
    assert [type(value) for value in fast] == [type(value) for value in slow]   # True is not 1


def _one_way(document: dict, plain, model: type, fields_of) -> None:
    """`plain` accepts only what `model` accepts, with the same fields, and rejects only what it rejects,
    with the same reason."""
    fast = plain(document)
    if type(fast) is str:   # rejected: the timestamp is the only problem
        assert fast == _models_reason(document, model), document
        return
    try:
        validated = model.model_validate(document)
    except ValidationError:
        assert fast is None, f"fast path accepted an invalid {model.__name__}: {document!r}"
        return
    if fast is not None:
        _same(fast, fields_of(validated))


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(prediction_documents(), near_valid(_VALID_PREDICTION, prediction_documents())))
def test_fast_prediction_never_accepts_what_the_model_rejects(document):
    _one_way(document, plain_prediction, Prediction, prediction_fields_of)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(prediction_documents(), near_valid(_VALID_PREDICTION, prediction_documents())))
def test_a_trusted_prediction_equals_the_validated_one(document):
    fields = plain_prediction(document)
    if fields is None or type(fields) is str:
        return
    trusted, validated = trusted_prediction(document, fields), Prediction.model_validate(document)
    assert trusted == validated
    assert trusted.model_dump() == validated.model_dump()
    assert trusted.model_fields_set == validated.model_fields_set
    assert trusted.model_extra == validated.model_extra
    assert [type(v) for v in trusted.model_dump().values()] == [type(v) for v in validated.model_dump().values()]


def test_details_come_only_for_wanted_models_and_invalid_records_keep_the_models_reason():
    raw = orjson.dumps(_VALID_PREDICTION)
    fields, details = prediction_or_reason(raw, lambda model: model == "m")
    assert details == decode_prediction(raw) and fields == prediction_fields_of(details)
    assert prediction_or_reason(raw, lambda model: False) == prediction_or_reason(raw) == (fields, None)
    bad = orjson.dumps({**_VALID_PREDICTION, "score": 1.5})
    with pytest.raises(DecodeError) as expected:
        decode_prediction(bad)
    assert prediction_or_reason(bad, lambda model: True) == str(expected.value)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(label_documents(), near_valid(_VALID_LABEL, label_documents())))
def test_fast_label_never_accepts_what_the_model_rejects(document):
    _one_way(document, plain_label, Label, label_fields_of)


def _surely_rejected_only_what_the_model_rejects(document: dict, model: type) -> None:
    if not surely_rejected(document, model):
        return
    with pytest.raises(ValidationError):
        model.model_validate(document)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(prediction_documents(), near_valid(_VALID_PREDICTION, prediction_documents())))
def test_a_prediction_surely_rejected_is_rejected_by_the_model(document):
    _surely_rejected_only_what_the_model_rejects(document, Prediction)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(label_documents(), near_valid(_VALID_LABEL, label_documents())))
def test_a_label_surely_rejected_is_rejected_by_the_model(document):
    _surely_rejected_only_what_the_model_rejects(document, Label)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(prediction_documents(), near_valid(_VALID_PREDICTION, prediction_documents())))
def test_the_unworded_verdict_is_the_worded_one_or_a_rejection(document):
    """Without wording, a verdict is the same, or `UNWORDED` where the worded one is a reason."""
    try:
        raw = orjson.dumps(document)
    except TypeError:   # an integer beyond 64 bits: not a message anyone can send through orjson
        return
    worded, unworded = prediction_or_reason(raw), prediction_or_reason(raw, None, False)
    if unworded == UNWORDED:
        assert type(worded) is str, document
    else:
        assert unworded == worded, document
    label_raw = orjson.dumps({**document, "label": document.get("predicted_label", 1)})
    worded, unworded = label_or_reason(label_raw), label_or_reason(label_raw, False)
    assert unworded == worded or (unworded == UNWORDED and type(worded) is str), document


def test_unworded_verdicts_save_the_wording_of_plain_junk():
    assert prediction_or_reason(b"garbage", None, False) == UNWORDED
    assert prediction_or_reason(b'{"prediction_id": 12}', None, False) == UNWORDED
    assert label_or_reason(b'{"prediction_id": "a", "timestamp": 1}', False) == UNWORDED   # no label
    # a reason found on the way to the verdict is kept
    assert prediction_or_reason(b"", None, False) == "message is empty"
    assert prediction_or_reason(b'{"a": NaN}', None, False).startswith("not valid JSON")


def test_the_simulators_records_take_the_fast_path():
    from simulator.model import Behaviour, Population
    from simulator.scenarios import stable
    from simulator.streams import TrafficGenerator

    population = Population(segments={"country": {"US": 1.0, "DE": 1.0}})
    generator = TrafficGenerator(stable(Behaviour()), start=1795690800.0, duration=600.0, rate_per_hour=6000,
                                 seed=3, model_id="m", population=population)
    kinds = set()
    for kind, _, record in generator.events():
        kinds.add(kind)
        plain = plain_prediction(record) if kind == "prediction" else plain_label(record)
        assert plain is not None, record
    assert kinds == {"prediction", "label"}


@pytest.mark.parametrize(
    "raw",
    [
        None,
        b"not json",
        b"[1]",
        b'{"prediction_id": "a", "model_id": "m", "timestamp": "2026-11-26T12:00:00Z", "predicted_label": 1, '
        b'"score": 1.5}',
        b'{"prediction_id": "a", "model_id": "m", "timestamp": "2026-11-26T12:00:00", "predicted_label": 1}',
        b'{"prediction_id": "a", "model_id": "m", "timestamp": 1795690800, "predicted_label": 1, '
        b'"features": {"x": [1]}}',
    ],
)
def test_invalid_predictions_get_the_models_reason(raw):
    with pytest.raises(DecodeError) as expected:
        decode_prediction(raw)
    assert prediction_or_reason(raw) == str(expected.value)


def test_invalid_labels_get_the_models_reason():
    raw = orjson.dumps({"prediction_id": "a", "label": 0.5, "timestamp": 1795690800})
    with pytest.raises(DecodeError) as expected:
        decode_label(raw)
    assert label_or_reason(raw) == str(expected.value) == "label: has the wrong type float (got 0.5)"


def test_valid_but_unusual_records_are_decoded_by_the_model():
    # A bool score is invalid; "0" as a reviewer is fine; an int score is fine and becomes a float.
    fields, _ = prediction_or_reason(orjson.dumps({"prediction_id": "a", "model_id": "m", "timestamp": 1795690800,
                                                   "predicted_label": True, "score": 1, "review_probability": 1}))
    assert fields.score == 1.0 and type(fields.score) is float and fields.predicted_label is True
    assert label_or_reason(orjson.dumps({"prediction_id": "a", "label": "x", "timestamp": 1795690800,
                                         "reviewer": ""})).reviewer == ""


def _models_reason(document: dict, model: type) -> str | None:
    try:
        model.model_validate(document)
    except ValidationError as error:
        return describe_validation_error(error)
    return None


_fast_reasons_seen = {Prediction: 0, Label: 0}


def _fast_reason_is_the_models(document: dict, model: type) -> None:
    fast = plain_problems(document, model)
    if fast is not None:
        _fast_reasons_seen[model] += 1
        assert fast == _models_reason(document, model), document


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(prediction_documents(), near_valid(_VALID_PREDICTION, prediction_documents())))
def test_fast_prediction_reasons_are_the_models(document):
    _fast_reason_is_the_models(document, Prediction)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(label_documents(), near_valid(_VALID_LABEL, label_documents())))
def test_fast_label_reasons_are_the_models(document):
    _fast_reason_is_the_models(document, Label)


def test_the_generated_documents_did_exercise_the_fast_reasons():
    # (runs after the two property tests above, in file order) a check that cannot be vacuous
    assert _fast_reasons_seen[Prediction] > 100 and _fast_reasons_seen[Label] > 100, _fast_reasons_seen


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b'{"prediction_id": 12, "model_id": [], "timestamp": {}, "predicted_label": null}',
         "prediction_id: has the wrong type int (got 12); model_id: has the wrong type list (got []); timestamp: "
         "timestamp must be an RFC 3339 string or epoch seconds (got {}) (and 1 more)"),
        (b'{"prediction_id": "f", "model_id": "m", "timestamp": "9999-12-31T23:59:59Z", "predicted_label": 1}',
         "timestamp: timestamp '9999-12-31T23:59:59Z' is outside 2000-01-01..2100-01-01 (milliseconds sent as "
         "seconds?) (got '9999-12-31T23:59:59Z')"),
        (b'{"model_id": "m", "timestamp": 1795690800, "predicted_label": 1, "score": true, "segment": []}',
         "prediction_id: is required; score: has the wrong type bool (got True); segment: has the wrong type list "
         "(got [])"),
    ],
)
def test_junk_gets_the_models_reason_on_the_fast_path(raw, reason):
    document = orjson.loads(raw)
    assert plain_problems(document, Prediction) == reason
    with pytest.raises(DecodeError, match=None) as expected:
        decode_prediction(raw)
    assert str(expected.value) == reason

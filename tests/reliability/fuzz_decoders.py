"""Coverage-guided fuzzing (atheris, libFuzzer) of the decoders, run by test_fuzz_decoders.py.

Each input is one Kafka message value, given to both decoders and to the flow's first step.
It must end in a valid event or a `DecodeError` with a bounded reason (any other exception is
a crash and libFuzzer stops with the input saved); the fast path (`prediction_or_reason`,
`label_or_reason`) must give the models' verdict, reason and values; `decode_batch` must reject
the message exactly when the model rejects it, and the dead-letter writer then make a record with
that reason and the message's bytes; a kept whole prediction must equal the model's. Where hypothesis
(test_hostile_input.py, tests/schemas/test_fast_decode.py) generates whole documents, this
mutates bytes, starting from valid records (the seed corpus), guided by which branches of
schemas/decode.py each input reaches.

    python tests/reliability/fuzz_decoders.py -runs=50000 -seed=1 CORPUS_DIR
"""

from __future__ import annotations

import contextlib
import sys

import atheris

# Coverage feedback from our decoding code, only when run as the fuzzer: the test imports this
# module for its checks and seeds, and must not instrument the modules of its own process.
_instrumented = (atheris.instrument_imports(include=["schemas", "flows.decode_stage", "flows.dead_letter_writer"])
                 if __name__ == "__main__" else contextlib.nullcontext())
with _instrumented:
    import base64

    import orjson

    from flows.dead_letter_writer import RejectedRecords, dead_letter_records
    from flows.decode_stage import decode_batch
    from flows.kafka_source import MessageBatch
    from schemas.decode import (
        DecodeError,
        decode_label,
        decode_prediction,
        label_fields_of,
        label_or_reason,
        prediction_fields_of,
        prediction_or_reason,
    )

LABELS_TOPIC = "labels"
CHECKS = (
    ("predictions", decode_prediction, lambda data: _first(prediction_or_reason(data)), prediction_fields_of),
    (LABELS_TOPIC, decode_label, label_or_reason, label_fields_of),
)

# Valid records of the contract: the mutations start from these.
SEEDS = [
    b'{"prediction_id": "p-1", "model_id": "fraud-detector", "model_version": "v5", '
    b'"timestamp": "2026-11-26T12:00:00Z", "predicted_label": 1, "score": 0.93, "review_probability": 0.5, '
    b'"segment": {"country": "US"}, "features": {"amount": 12.5, "merchant": "m-7", "age": null}}',
    b'{"prediction_id": "p-2", "model_id": "m", "timestamp": 1795690800.25, "predicted_label": "fraud"}',
    b'{"prediction_id": "p-3", "model_id": "m", "timestamp": 1795690800, "predicted_label": true, "score": 0}',
    b'{"prediction_id": "p-1", "label": 0, "timestamp": "2026-11-26T13:00:00.5+01:00", "model_id": "m", '
    b'"reviewer": "ana"}',
    b'{"prediction_id": "p-2", "label": "fraud", "timestamp": 1795694400}',
]


def _first(decoded):
    """A prediction's fields, or its reason (`prediction_or_reason` also gives the whole prediction)."""
    return decoded if type(decoded) is str else decoded[0]


def _verdict(function, data: bytes):
    """(result, None) or (None, reason), from a decoder that raises or one that returns its reason."""
    try:
        result = function(data)
    except DecodeError as error:
        result = str(error)
    if type(result) is not str:
        return result, None
    assert result and len(result) < 2000, f"unbounded or empty reason: {result[:200]!r}"
    return None, result


def check(data: bytes) -> None:
    for topic, decode, fast, fields_of in CHECKS:
        event, reason = _verdict(decode, data)
        fields, fast_reason = _verdict(fast, data)
        assert fast_reason == reason, f"{topic}: fast path says {fast_reason!r}, the model {reason!r}"
        if event is not None:
            assert fields == fields_of(event), f"{topic}: fast path read {fields}, the model {fields_of(event)}"
        out = decode_batch(MessageBatch(topic, 0, [(b"key", data, 7)], []), LABELS_TOPIC,
                           keep_details=lambda _model: True, worded=False)   # the helper words the rest
        if reason is None:
            assert not out.rejected and out.events[0].prediction_id == event.prediction_id, out
            if topic != LABELS_TOPIC:
                assert out.events[0].details == event, f"kept prediction {out.events[0].details!r}, the model {event!r}"
        else:
            assert not out.events and [record[:3] for record in out.rejected] == [(b"key", data, 7)], out
            (dead,) = dead_letter_records(RejectedRecords(topic, 0, out.rejected), LABELS_TOPIC)
            body = orjson.loads(dead.value)
            assert not out.events and dead.topic == f"{topic}.dlq" and dead.key == b"key", out
            assert (body["topic"], body["offset"], body["error"]) == (topic, 7, reason), body
            kept = base64.b64decode(body["raw"]) if body.get("raw_encoding") == "base64" else body["raw"].encode()
            assert kept == data[:len(kept)] and (len(kept) == len(data) or body["raw_truncated_from"] == len(data))


if __name__ == "__main__":
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()

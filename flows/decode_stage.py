"""First step of the flow: fetched Kafka records to compact events, or to dead letters.

Decoding happens once, at the edge; what crosses the worker exchange afterwards is a small
tuple, not a pydantic model (cheaper to pickle between processes, smaller in join state).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NamedTuple

from flows.join_state import LABELS, PREDICTIONS, PendingLabel, PendingPrediction
from flows.kafka_source import MessageBatch
from schemas.decode import LabelFields, PredictionFields, label_or_reason, prediction_or_reason
from schemas.events import Prediction

_SEGMENTS: dict[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]] = {}
_MAX_INTERNED_SEGMENTS = 100_000


class DecodedEvent(NamedTuple):
    source: str          # PREDICTIONS or LABELS
    partition: int
    event_time: float    # the prediction's or the label's own event time
    prediction_id: str
    event: PendingPrediction | PendingLabel
    # The whole prediction (features, score), only for models whose SLOs watch drift: it rides
    # to the join shard, which passes it on to the engine; the join state keeps only `event`.
    details: Prediction | None = None


# A rejected record as fetched, with the decoder's reason, or `UNWORDED` for the dead-letter writer
# to word (flows/dead_letter_writer.py): (key, value, offset, reason).
RejectedRecord = tuple[bytes | None, bytes | None, int, str]


class DecodedBatch(NamedTuple):
    """One `MessageBatch`, decoded: its events in offset order, the records it rejected, its
    consumer errors."""

    source: str          # PREDICTIONS or LABELS
    partition: int
    events: list[DecodedEvent]
    rejected: list[RejectedRecord]
    errors: list[str]


def decode_batch(
    batch: MessageBatch, labels_topic: str, keep_details: Callable[[str], bool] | None = None, worded: bool = True
) -> DecodedBatch:
    """Decode every record of a fetched batch of the predictions or labels topic.

    A valid record becomes a `DecodedEvent`; `keep_details(model_id)` says whether to keep the whole
    prediction in its `details`. Any other record is `rejected`, as fetched, with its reason. A
    flood of junk comes this second way, and costs here only the verdict (no exception; no dead
    letter encoded; unless `worded`, no reason worded when a required field is plainly wrong or the
    message is no JSON object: `UNWORDED`): the rest is the dead-letter writer's work, in a helper
    process when the machine has a CPU to spare for it.
    """
    events: list[DecodedEvent] = []
    rejected: list[RejectedRecord] = []
    partition = batch.partition
    is_label = batch.topic == labels_topic
    for record in batch.records:
        value = record[1]
        decoded = label_or_reason(value, worded) if is_label else prediction_or_reason(value, keep_details, worded)
        if type(decoded) is str:
            rejected.append(record + (decoded,))
        elif is_label:
            events.append(_label_event(decoded, partition, record[2]))
        else:
            events.append(_prediction_event(*decoded, partition))
    return DecodedBatch(LABELS if is_label else PREDICTIONS, partition, events, rejected, batch.errors)


def _label_event(label: LabelFields, partition: int, offset: int) -> DecodedEvent:
    prediction_id, label_value, labeled_at, model_id, reviewer = label
    return _new(DecodedEvent, (
        LABELS, partition, labeled_at, prediction_id,
        _new(PendingLabel, (labeled_at, label_value, _intern(model_id), _intern(reviewer), partition, offset)),
        None,
    ))


def _prediction_event(prediction: PredictionFields, details: Prediction | None, partition: int) -> DecodedEvent:
    prediction_id, model_id, model_version, predicted_at, predicted_label, score, review_probability, segment = (
        prediction
    )
    return _new(DecodedEvent, (
        PREDICTIONS, partition, predicted_at, prediction_id,
        _new(PendingPrediction, (predicted_at, sys.intern(model_id), _intern(model_version), predicted_label,
                                 review_probability, score, _shared_segment(segment))),
        details,
    ))


# Builds a NamedTuple from a tuple of all its fields, skipping its Python-level __new__ (which
# costs twice as much): the flow builds two per event.
_new = tuple.__new__


def _intern(text: str | None) -> str | None:
    return None if text is None else sys.intern(text)


def _shared_segment(segment: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """One sorted tuple object per distinct segment, shared by every pending prediction that has it.

    >>> _shared_segment({"tier": "gold", "country": "US"})
    (('country', 'US'), ('tier', 'gold'))
    >>> _shared_segment({"country": "US", "tier": "gold"}) is _shared_segment({"tier": "gold", "country": "US"})
    True
    """
    if not segment:
        return ()
    as_sent = tuple(segment.items())   # producers keep their key order: found without sorting
    shared = _SEGMENTS.get(as_sent)
    if shared is None:
        key = tuple(sorted(as_sent))
        if len(_SEGMENTS) >= _MAX_INTERNED_SEGMENTS:
            return key  # a high-cardinality "segment" is not worth sharing
        shared = _SEGMENTS.setdefault(key, key)
        _SEGMENTS[as_sent] = shared
    return shared

"""The label-to-prediction join, as plain state with no engine in it.

One `JoinShard` owns the prediction ids that hash to it. It never reads a clock: a prediction
waits for its label until the *labels* input has progressed past its event time plus the
maximum label delay; a label that arrives first waits until the *predictions* input has
progressed past the label's time plus a margin. Each side expires on the other side's
progress, so replaying topics full of old data, or one topic lagging hours behind the other,
never drops a record that would still have matched.

Every input record ends as exactly one outcome (see `Outcome.kind`), which is what the
accounting tests check. The first prediction and the first label of an id win; later ones are
duplicates. A label whose model_id contradicts its prediction is rejected (dead-lettered) and
the prediction goes on waiting.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import NamedTuple

from flows.deadlines import DeadlineBuckets
from schemas.joined import ClassLabel, JoinedRecord

PREDICTIONS = "predictions"
LABELS = "labels"

# Outcome kinds: every input record becomes exactly one of these (or stays pending).
JOINED = "joined"                          # the label and its prediction, matched
PREDICTION_EXPIRED = "prediction_expired"  # no label came within the maximum label delay
LABEL_EXPIRED = "label_expired"            # no prediction came for this label
PREDICTION_DUPLICATE = "prediction_duplicate"  # same prediction_id again: the first one wins
LABEL_DUPLICATE = "label_duplicate"        # a second label for a prediction: dropped
LABEL_REJECTED = "label_rejected"          # label contradicts its prediction (model_id)
PREDICTION_PENDING = "prediction_pending"  # only reported at end of input
LABEL_PENDING = "label_pending"

# Signals for the SLO engine, not record outcomes.
PREDICTIONS_SEEN = "predictions_seen"  # detail: (model_id, segment, minute start, count)
CLOCK = "clock"                        # detail: event time both inputs have reached
RECORD_OUTCOMES = (JOINED, PREDICTION_EXPIRED, LABEL_EXPIRED, PREDICTION_DUPLICATE,
                   LABEL_DUPLICATE, LABEL_REJECTED, PREDICTION_PENDING, LABEL_PENDING)


@dataclass(frozen=True, slots=True)
class JoinSettings:
    """How long each side waits, in event-time seconds."""

    max_label_delay: float = 7 * 86_400.0
    label_wait_margin: float = 600.0
    expiry_granularity: float = 60.0
    # Partition count per input, when known: progress then waits until every partition has
    # been heard from, so a partition read first cannot expire records of one read later.
    input_partitions: tuple[tuple[str, int], ...] = ()


class PendingPrediction(NamedTuple):
    """Only what the engine needs from a prediction (features stay out of the join state)."""

    predicted_at: float
    model_id: str
    model_version: str | None
    predicted_label: ClassLabel
    review_probability: float
    score: float | None
    segment: tuple[tuple[str, str], ...]


class PendingLabel(NamedTuple):
    labeled_at: float
    label: ClassLabel
    model_id: str | None
    reviewer: str | None
    partition: int   # where the label came from, for a dead-letter record if it is rejected
    offset: int


# A pending prediction is held as 28 packed bytes (a 64-byte object, where the PendingPrediction
# tuple and its three floats took 192): predicted_at, review_probability, score (NaN for none;
# a valid score is never NaN) and the index of its (model_id, model_version, predicted_label,
# segment) in the shard's table of those, which few distinct values fill.
_PACKED = struct.Struct("<dddI")
_pack_bytes, _unpack_bytes = _PACKED.pack, _PACKED.unpack
_NO_SCORE = float("nan")
_MIN_META_TABLE = 4096


class Outcome(NamedTuple):
    kind: str
    prediction_id: str
    detail: object = None  # JoinedRecord for JOINED, the label and reason for LABEL_REJECTED


# Builds a NamedTuple from a tuple of all its fields without its Python-level __new__ (a third of
# the cost): the shard builds one or two per event.
_new = tuple.__new__


class JoinShard:
    """Pending predictions and labels of one shard, and the input progress it has heard of."""

    def __init__(self, settings: JoinSettings) -> None:
        self.settings = settings
        self.predictions: dict[str, bytes] = {}   # packed, see `_pack`
        self._metas: list[tuple] = []              # (model_id, model_version, predicted_label, segment)
        self._meta_index: dict[tuple, int] = {}
        self._meta_limit = _MIN_META_TABLE          # compact the table when it reaches this
        self.labels: dict[str, PendingLabel] = {}
        # Joined ids are remembered until their prediction would have expired, so a late
        # duplicate label is recognised as a duplicate rather than waiting and expiring.
        self.joined: dict[str, float] = {}
        self._prediction_deadlines = DeadlineBuckets(settings.expiry_granularity)
        self._label_deadlines = DeadlineBuckets(settings.expiry_granularity)
        self._progress: dict[tuple[str, int], float] = {}
        # Prediction counts per minute and (model_id, segment), held until the clock passes the
        # minute (see `signals`).
        self._seen: dict[float, dict[tuple[str, tuple], int]] = {}
        self._clock_sent = float("-inf")

    # -- input -------------------------------------------------------------------------------

    def add_prediction(self, prediction_id: str, prediction: PendingPrediction) -> Outcome | None:
        """Its outcome: a duplicate, a match with a waiting label, or None (it waits for its label)."""
        if prediction_id in self.predictions or prediction_id in self.joined:
            return _new(Outcome, (PREDICTION_DUPLICATE, prediction_id, None))
        label = self.labels.pop(prediction_id, None)
        predicted_at = prediction[0]
        self._prediction_deadlines.add(prediction_id, predicted_at + self.settings.max_label_delay)
        minute = predicted_at // 60.0 * 60.0
        counts = self._seen.get(minute)
        if counts is None:
            counts = self._seen[minute] = {}
        seen_key = (prediction[1], prediction[6])   # (model_id, segment)
        counts[seen_key] = counts.get(seen_key, 0) + 1
        if label is None:
            self.predictions[prediction_id] = self._pack(prediction)
            return None
        return self._match(prediction_id, prediction, label)

    def add_label(self, prediction_id: str, label: PendingLabel) -> list[Outcome]:
        if prediction_id in self.joined or prediction_id in self.labels:
            return [_new(Outcome, (LABEL_DUPLICATE, prediction_id, None))]
        packed = self.predictions.pop(prediction_id, None)
        if packed is None:
            self.labels[prediction_id] = label
            self._label_deadlines.add(prediction_id, label[0] + self.settings.label_wait_margin)   # labeled_at
            return []
        return [self._match(prediction_id, self._unpack(packed), label)]

    def pending_prediction(self, prediction_id: str) -> PendingPrediction | None:
        """The prediction waiting under `prediction_id`, if any."""
        packed = self.predictions.get(prediction_id)
        return None if packed is None else self._unpack(packed)

    def advance(self, source: str, partition: int, event_time: float) -> list[Outcome]:
        """Record that `source`'s `partition` has reached `event_time`; expire what is due."""
        key = (source, partition)
        if event_time <= self._progress.get(key, float("-inf")):
            return []
        self._progress[key] = event_time
        outcomes: list[Outcome] = []
        labels_progress = self.watermark(LABELS)
        if labels_progress is not None:
            for prediction_id in self._prediction_deadlines.pop_due(labels_progress):
                if self.predictions.pop(prediction_id, None) is not None:
                    outcomes.append(Outcome(PREDICTION_EXPIRED, prediction_id))
                else:
                    self.joined.pop(prediction_id, None)
        predictions_progress = self.watermark(PREDICTIONS)
        if predictions_progress is not None:
            for prediction_id in self._label_deadlines.pop_due(predictions_progress):
                if self.labels.pop(prediction_id, None) is not None:
                    outcomes.append(Outcome(LABEL_EXPIRED, prediction_id))
        return outcomes

    def watermark(self, source: str) -> float | None:
        """Event time that every partition of `source` has reached, or None if not yet known.

        With `input_partitions` set, every partition must have been heard from. Without it,
        partitions never heard from are not waited for and the wait margins must absorb the
        skew between partitions.
        """
        times = [time for (name, _), time in self._progress.items() if name == source]
        expected = dict(self.settings.input_partitions).get(source, 0)
        if not times or len(times) < expected:
            return None
        return min(times)

    def signals(self, clock_step: float) -> list[Outcome]:
        """Prediction counts of the minutes the clock has passed, and the clock when it crossed a step.

        The clock is the event time *both* inputs have reached (the slower one governs); the
        SLO engine evaluates up to the minimum clock of all shards. Counts come first, so the
        engine has them before it evaluates the minute they belong to. The engine cannot
        evaluate past a minute before this shard's clock has passed it, so a minute's counts
        are held until then and sent once, summed, instead of once per batch (which made
        about one count per prediction); counts of a minute already passed (late predictions)
        go out at once.
        """
        clock = None
        predictions, labels = self.watermark(PREDICTIONS), self.watermark(LABELS)
        if predictions is not None and labels is not None:
            clock = min(predictions, labels) // clock_step * clock_step
            if clock > self._clock_sent:
                self._clock_sent = clock
            else:
                clock = None
        out = self._counts_before(self._clock_sent)
        if clock is not None:
            out.append(Outcome(CLOCK, "", clock))
        return out

    def held_counts(self) -> list[Outcome]:
        """Every prediction count still held (at the end of the input)."""
        return self._counts_before(float("inf"))

    def _counts_before(self, time: float) -> list[Outcome]:
        out: list[Outcome] = []
        if not self._seen:
            return out
        new, seen = _new, self._seen
        for minute in sorted(m for m in seen if m < time):
            out += [new(Outcome, (PREDICTIONS_SEEN, "", (*key, minute, count)))   # key: (model_id, segment)
                    for key, count in seen.pop(minute).items()]
        return out

    def pending(self) -> list[Outcome]:
        """What is still waiting, as outcomes (reported when the input ends)."""
        return [Outcome(PREDICTION_PENDING, pid) for pid in self.predictions] + [
            Outcome(LABEL_PENDING, pid) for pid in self.labels
        ]

    def size(self) -> int:
        """Entries held: pending predictions, pending labels and remembered joined ids."""
        return len(self.predictions) + len(self.labels) + len(self.joined)

    # -- matching ----------------------------------------------------------------------------

    def _match(self, prediction_id: str, prediction: PendingPrediction, label: PendingLabel) -> Outcome:
        predicted_at, model_id, model_version, predicted_label, review_probability, score, segment = prediction
        labeled_at, true_label, label_model_id, reviewer, _, _ = label
        if label_model_id is not None and label_model_id != model_id:
            # The label is wrong, not the prediction: it keeps waiting for a matching label.
            self.predictions[prediction_id] = self._pack(prediction)
            reason = (
                f"label.model_id {label.model_id!r} does not match the prediction's "
                f"model_id {prediction.model_id!r}"
            )
            return Outcome(LABEL_REJECTED, prediction_id, (label, reason))
        self.joined[prediction_id] = predicted_at
        # positional, in JoinedRecord's field order (a third cheaper than by keyword)
        record = JoinedRecord(prediction_id, model_id, model_version, predicted_at, labeled_at, predicted_label,
                              true_label, review_probability, score, dict(segment), reviewer)
        return _new(Outcome, (JOINED, prediction_id, record))

    # -- packed pending predictions ----------------------------------------------------------

    def _pack(self, prediction: PendingPrediction) -> bytes:
        predicted_at, model_id, model_version, label, review_probability, score, segment = prediction
        # the label's type is part of the key: True == 1 would otherwise share an entry
        key = (model_id, model_version, type(label), label, segment)
        index = self._meta_index.get(key)
        if index is None:
            if len(self._metas) >= self._meta_limit:
                self._compact_metas()
            index = self._meta_index[key] = len(self._metas)
            self._metas.append((model_id, model_version, label, segment))
        return _pack_bytes(predicted_at, review_probability, _NO_SCORE if score is None else score, index)

    def _unpack(self, packed: bytes) -> PendingPrediction:
        predicted_at, review_probability, score, index = _unpack_bytes(packed)
        model_id, model_version, label, segment = self._metas[index]
        return _new(PendingPrediction, (predicted_at, model_id, model_version, label, review_probability,
                                        None if score != score else score, segment))

    def _compact_metas(self) -> None:
        """Drop table entries no pending prediction uses (many distinct segments or labels)."""
        pending = {pid: self._unpack(packed) for pid, packed in self.predictions.items()}
        self._metas, self._meta_index = [], {}
        self._meta_limit = 1 << 62   # no compaction while repacking
        self.predictions = {pid: self._pack(prediction) for pid, prediction in pending.items()}
        self._meta_limit = max(_MIN_META_TABLE, 2 * len(self._metas))

    # -- recovery ----------------------------------------------------------------------------

    def __setstate__(self, state: dict) -> None:
        seen = state.get("_seen")
        if seen and not isinstance(next(iter(seen.values())), dict):
            # a snapshot from before counts were held per minute: {(model, segment, minute): n}
            grouped: dict[float, dict[tuple[str, tuple], int]] = {}
            for (model_id, segment, minute), count in seen.items():
                grouped.setdefault(minute, {})[(model_id, segment)] = count
            state["_seen"] = grouped
        self.__dict__.update(state)
        if "_metas" not in state:
            # a snapshot from before pending predictions were packed: PendingPrediction values
            self._metas, self._meta_index, self._meta_limit = [], {}, _MIN_META_TABLE
            self.predictions = {pid: self._pack(p) for pid, p in self.predictions.items()}

    def snapshot(self) -> JoinShard:
        """An independent copy for Bytewax recovery (values are immutable tuples)."""
        twin = JoinShard.__new__(JoinShard)
        twin.settings = self.settings
        twin.predictions = dict(self.predictions)
        twin._metas = list(self._metas)
        twin._meta_index = dict(self._meta_index)
        twin._meta_limit = self._meta_limit
        twin.labels = dict(self.labels)
        twin.joined = dict(self.joined)
        twin._prediction_deadlines = self._prediction_deadlines.copy()
        twin._label_deadlines = self._label_deadlines.copy()
        twin._progress = dict(self._progress)
        twin._seen = {minute: dict(counts) for minute, counts in self._seen.items()}
        twin._clock_sent = self._clock_sent
        return twin

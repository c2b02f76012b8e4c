"""Input progress per Kafka partition, broadcast to every join shard.

Each shard must know how far *both* inputs have progressed in event time to expire waiting
records, but it only sees the ids that hash to it. This step, keyed by `<source>#<partition>`,
routes each event to its shard (one list per shard and batch) and, when the partition's event
time has advanced, sends a progress marker to every shard. Markers follow the events that caused
them on the same path, so a shard never hears of progress before the events behind it.

A partition's progress is the highest event time it has carried, with one guard: a record more
than `far_ahead` seconds past it (the join's maximum label delay: a review tool whose clock says
next year) does not move it alone. The next record confirms it if it is not earlier (the
partition's traffic really jumped: a pause, a backfill); a record back near the progress drops
it. Without the guard one label dated next year on each labels partition expired every waiting
prediction, and every new one until real time caught up, so the SLO saw no labels. The record
itself is joined and counted as usual. Two such records in a row (a burst from that tool) still
move the progress; so does a partition's first record.
"""

from __future__ import annotations

import zlib
from typing import NamedTuple

from bytewax.operators import StatefulBatchLogic

from flows.decode_stage import DecodedBatch
from flows.join_state import LABELS

PREDICTION_ITEM = "p"
LABEL_ITEM = "l"
PROGRESS_ITEM = "w"
FAR_AHEAD = 7 * 86_400.0   # default of JoinSettings.max_label_delay, which the flow passes


class Progress(NamedTuple):
    source: str
    partition: int
    event_time: float


def shard_of(prediction_id: str, shards: int) -> str:
    """Stable across processes and restarts (unlike `hash()`, which is salted per process)."""
    return shard_name(zlib.crc32(prediction_id.encode("utf-8")) % shards)


def shard_name(index: int) -> str:
    return f"shard-{index}"


class PartitionClockLogic(StatefulBatchLogic):
    """State: which partition this is, its progress (event time), the last progress broadcast,
    and a record far ahead of the progress waiting to be confirmed (None if there is none)."""

    def __init__(self, shards: int, step: float, resume: tuple | None, far_ahead: float = FAR_AHEAD) -> None:
        self.shards = shards
        self.step = step
        self.far_ahead = far_ahead
        state = resume if resume is not None else (None, -1, float("-inf"), float("-inf"), None)
        self.source, self.partition, self.highest, self.broadcast = state[:4]
        self.unconfirmed: float | None = state[4] if len(state) > 4 else None   # (older snapshots: 4 fields)
        self._names = [shard_name(index) for index in range(shards)]

    def on_batch(self, values: list[DecodedBatch]) -> tuple[list[tuple[str, list[tuple]]], bool]:
        """Each shard gets one list per call: its events in input order, then any progress marker."""
        per_shard: dict[str, list[tuple]] = {}
        names, shards, crc32 = self._names, self.shards, zlib.crc32   # shard_of, without a call per event
        highest, far, waiting = self.highest, self.far_ahead, self.unconfirmed
        limit = highest + far
        for batch in values:
            kind = LABEL_ITEM if batch.source == LABELS else PREDICTION_ITEM   # one source per batch
            for _, _, event_time, pid, event, details in batch.events:   # DecodedEvent's fields
                item = (kind, pid, event) if details is None else (kind, pid, event, details)
                # (the whole prediction rides along for drift and diagnostics)
                name = names[crc32(pid.encode("utf-8")) % shards]
                items = per_shard.get(name)
                if items is None:
                    items = per_shard[name] = []
                items.append(item)
                if event_time > highest:
                    if event_time > limit:
                        highest, waiting = self._progress_after(event_time, highest, waiting)
                    else:
                        highest, waiting = event_time, None   # near the progress: drops an unconfirmed one
                    limit = highest + far
        self.highest, self.unconfirmed = highest, waiting
        if values:
            self.source, self.partition = values[-1].source, values[-1].partition
            if self.highest >= self.broadcast + self.step:
                marker = self._advance_broadcast()
                for name in names:
                    per_shard.setdefault(name, []).append(marker)
        return list(per_shard.items()), False

    def _progress_after(self, event_time: float, highest: float, waiting: float | None) -> tuple[float, float | None]:
        """(progress, unconfirmed record) after a record more than `far_ahead` past `highest`."""
        if highest == float("-inf"):
            return event_time, None            # a partition's first record
        if waiting is None or event_time < waiting:
            return highest, event_time         # wait for the next record (keep the earlier)
        # confirmed by a record not earlier than it: progress moves to it, and on from there
        if event_time <= waiting + self.far_ahead:
            return event_time, None
        return self._progress_after(event_time, waiting, None)

    def on_eof(self) -> tuple[list[tuple[str, list[tuple]]], bool]:
        """At the end of a bounded input, announce the last progress not yet broadcast."""
        if self.source is not None and self.highest > self.broadcast:
            marker = self._advance_broadcast()
            return [(name, [marker]) for name in self._names], False
        return [], False

    def _advance_broadcast(self) -> tuple:
        self.broadcast = self.highest
        return (PROGRESS_ITEM, Progress(self.source, self.partition, self.highest))

    def snapshot(self) -> tuple:
        return (self.source, self.partition, self.highest, self.broadcast, self.unconfirmed)

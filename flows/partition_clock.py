"""Input progress per Kafka partition, broadcast to every join shard.

Each shard must know how far *both* inputs have progressed in event time to expire waiting
records, but it only sees the ids that hash to it. This step, keyed by `<source>#<partition>`,
routes each event to its shard (one list per shard and batch) and, when the partition's event
time has advanced, sends a progress marker to every shard. Markers follow the events that caused
them on the same path, so a shard never hears of progress before the events behind it.
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
    """State: which partition this is, its highest event time seen, and the last one broadcast."""

    def __init__(self, shards: int, step: float, resume: tuple | None) -> None:
        self.shards = shards
        self.step = step
        state = resume if resume is not None else (None, -1, float("-inf"), float("-inf"))
        self.source, self.partition, self.highest, self.broadcast = state
        self._names = [shard_name(index) for index in range(shards)]

    def on_batch(self, values: list[DecodedBatch]) -> tuple[list[tuple[str, list[tuple]]], bool]:
        """Each shard gets one list per call: its events in input order, then any progress marker."""
        per_shard: dict[str, list[tuple]] = {}
        names, shards, crc32 = self._names, self.shards, zlib.crc32   # shard_of, without a call per event
        highest = self.highest
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
                    highest = event_time
        self.highest = highest
        if values:
            self.source, self.partition = values[-1].source, values[-1].partition
            if self.highest >= self.broadcast + self.step:
                marker = self._advance_broadcast()
                for name in names:
                    per_shard.setdefault(name, []).append(marker)
        return list(per_shard.items()), False

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
        return (self.source, self.partition, self.highest, self.broadcast)

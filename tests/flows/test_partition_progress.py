"""A partition's progress and records far ahead of it: one label dated next year (a review tool
with a wrong clock) must not move the labels' clock, or every waiting prediction expires."""

from __future__ import annotations

import orjson

from flows.decode_stage import decode_batch
from flows.join_state import LABELS, PREDICTION_EXPIRED, PREDICTIONS, JoinSettings, JoinShard, PendingPrediction
from flows.kafka_source import MessageBatch
from flows.partition_clock import FAR_AHEAD, PROGRESS_ITEM, PartitionClockLogic

T0 = 1_790_000_000.0
NEXT_YEAR = T0 + 365 * 86400.0


def _labels(*times: float, offset: int = 0):
    records = [(f"l{offset + i}".encode(), orjson.dumps({"prediction_id": f"l{offset + i}", "timestamp": at,
                                                         "label": 1}), offset + i)
               for i, at in enumerate(times)]
    return decode_batch(MessageBatch("labs", 0, records, []), labels_topic="labs")


def _progress(routed) -> list[float]:
    """The progress markers one call broadcast (the same one to every shard)."""
    marks = {item[1].event_time for _, items in routed for item in items if item[0] == PROGRESS_ITEM}
    return sorted(marks)


def test_one_record_far_ahead_does_not_move_progress_and_is_still_routed():
    clock = PartitionClockLogic(4, step=1.0, resume=None)
    assert _progress(clock.on_batch([_labels(T0, T0 + 10)])[0]) == [T0 + 10]
    routed, _ = clock.on_batch([_labels(T0 + 20, NEXT_YEAR, T0 + 30, offset=2)])
    assert _progress(routed) == [T0 + 30]
    assert sum(len(items) - 1 for _, items in routed) == 3, "all three records go to their shards"
    # interleaved with normal records, far ones never confirm each other
    routed, _ = clock.on_batch([_labels(NEXT_YEAR, T0 + 40, NEXT_YEAR + 1, T0 + 50, offset=5)])
    assert _progress(routed) == [T0 + 50] and clock.snapshot()[2:] == (T0 + 50, T0 + 50, None)
    # late records neither move it nor drop a waiting one
    clock.on_batch([_labels(NEXT_YEAR, T0 - 600, offset=9)])
    assert clock.snapshot()[2:] == (T0 + 50, T0 + 50, NEXT_YEAR)


def test_a_real_jump_moves_progress_with_the_next_record():
    clock = PartitionClockLogic(2, step=1.0, resume=None, far_ahead=3600.0)
    clock.on_batch([_labels(T0)])
    later = T0 + 3 * 3600.0    # a pause in the reviews, then they resume
    routed, _ = clock.on_batch([_labels(later + 5, offset=1)])
    assert _progress(routed) == [] and clock.snapshot()[4] == later + 5
    routed, _ = clock.on_batch([_labels(later + 9, later + 12, offset=2)])
    assert _progress(routed) == [later + 12]
    # a sparse partition (a record every 1.5 h, over the limit): one record behind, never more
    for i in range(1, 4):
        clock.on_batch([_labels(later + 12 + i * 5400.0, offset=3 + i)])
        assert clock.snapshot()[2] == later + 12 + (i - 1) * 5400.0
    # within far_ahead a single record moves it, as before
    clock = PartitionClockLogic(2, step=1.0, resume=None, far_ahead=3600.0)
    clock.on_batch([_labels(T0, T0 + 3600.0)])
    assert clock.snapshot()[2] == T0 + 3600.0


def test_the_default_limit_is_the_joins_maximum_label_delay():
    assert FAR_AHEAD == JoinSettings().max_label_delay
    clock = PartitionClockLogic(2, step=1.0, resume=None)
    clock.on_batch([_labels(T0, T0 + 6 * 86400.0)])     # six days on: a quiet week, not a bad clock
    assert clock.snapshot()[2] == T0 + 6 * 86400.0


def test_resumes_from_a_snapshot_written_before_the_guard():
    clock = PartitionClockLogic(2, step=1.0, resume=(LABELS, 0, T0, T0))
    assert clock.snapshot() == (LABELS, 0, T0, T0, None)
    clock.on_batch([_labels(NEXT_YEAR)])
    assert PartitionClockLogic(2, 1.0, clock.snapshot()).snapshot() == (LABELS, 0, T0, T0, NEXT_YEAR)


def test_waiting_predictions_survive_a_label_dated_next_year_on_every_partition():
    settings = JoinSettings(max_label_delay=1800.0, label_wait_margin=300.0,
                            input_partitions=((PREDICTIONS, 1), (LABELS, 3)))
    shard = JoinShard(settings)
    for i in range(100):
        shard.add_prediction(f"p{i}", PendingPrediction(T0 + i, "m", "v1", 1, 1.0, None, ()))
    shard.advance(PREDICTIONS, 0, T0 + 100)
    outcomes = []
    for partition in range(3):
        clock = PartitionClockLogic(1, step=1.0, resume=None, far_ahead=settings.max_label_delay)
        for batch in (_labels(T0 + 200, offset=10 * partition), _labels(NEXT_YEAR, offset=10 * partition + 1)):
            for _, items in clock.on_batch([batch])[0]:
                for item in items:
                    if item[0] == PROGRESS_ITEM:
                        outcomes += shard.advance(LABELS, partition, item[1].event_time)
        # the end of a bounded input announces only confirmed progress
        for _, items in clock.on_eof()[0]:
            outcomes += [o for item in items for o in shard.advance(LABELS, partition, item[1].event_time)]
    assert shard.watermark(LABELS) == T0 + 200
    assert not [o for o in outcomes if o.kind == PREDICTION_EXPIRED] and len(shard.predictions) == 100

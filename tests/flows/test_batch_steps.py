"""The flow's steps take and give batches: order, routing and dead letters inside a batch.

These run the operator logics directly (no Kafka, no Bytewax runtime); the Kafka tests run the
same logics inside the real dataflow.
"""

from __future__ import annotations

import orjson

from flows.dead_letter_writer import RejectedRecords, dead_letter_records
from flows.decode_stage import decode_batch
from flows.engine_operator import CLOCK_ITEM, JOINED_ITEM, PREDICTIONS_ITEM
from flows.join_operator import JoinShardLogic
from flows.join_state import CLOCK, JOINED, LABELS, PREDICTIONS, PREDICTIONS_SEEN, JoinSettings, Outcome
from flows.kafka_source import MessageBatch
from flows.monitor_flow import SloRouter
from flows.partition_clock import LABEL_ITEM, PREDICTION_ITEM, PROGRESS_ITEM, PartitionClockLogic, shard_of
from schemas.decode import UNWORDED
from slo.spec import parse_slo_yaml

T0 = 1_736_121_600.0


def prediction(pid: str, at: float, model: str = "m") -> bytes:
    return orjson.dumps({"prediction_id": pid, "model_id": model, "timestamp": at, "predicted_label": 1})


def label(pid: str, at: float) -> bytes:
    return orjson.dumps({"prediction_id": pid, "timestamp": at, "label": 1})


def test_decode_batch_keeps_offset_order_and_dead_letters_each_bad_record() -> None:
    batch = MessageBatch("preds", 2, [
        (b"a", prediction("a", T0), 10),
        (b"x", b"not json", 11),
        (b"b", prediction("b", T0 + 1), 12),
        (None, None, 13),
    ], ["broker down"])

    decoded = decode_batch(batch, labels_topic="labs", worded=False)   # as with a dead-letter helper

    assert decoded.source == PREDICTIONS and decoded.partition == 2
    assert [event.prediction_id for event in decoded.events] == ["a", "b"]
    assert decoded.rejected == [(b"x", b"not json", 11, UNWORDED), (None, None, 13, "message has no value (tombstone)")]
    assert decoded.errors == ["broker down"]

    # the dead-letter writer words what the flow left unworded
    dead = dead_letter_records(RejectedRecords("preds", 2, decoded.rejected), labels_topic="labs")
    assert [(d.topic, d.key) for d in dead] == [("preds.dlq", b"x"), ("preds.dlq", None)]
    bodies = [orjson.loads(d.value) for d in dead]
    assert [(b["topic"], b["partition"], b["offset"], b["raw"]) for b in bodies] == [
        ("preds", 2, 11, "not json"), ("preds", 2, 13, None)]
    assert bodies[0]["error"] == "a Prediction must be a JSON object; the message starts with b'not json'"
    assert bodies[1]["error"] == "message has no value (tombstone)"

    # without a helper to word them, the flow words every reason itself
    worded = decode_batch(batch, labels_topic="labs")
    assert [record[3] for record in worded.rejected] == [bodies[0]["error"], bodies[1]["error"]]


def test_decode_batch_of_the_labels_topic_reads_labels() -> None:
    decoded = decode_batch(MessageBatch("labs", 0, [(b"a", label("a", T0 + 5), 0)], []), labels_topic="labs")
    assert decoded.source == LABELS
    assert decoded.events[0].event.labeled_at == T0 + 5 and decoded.events[0].event.offset == 0


def test_partition_clock_sends_one_list_per_shard_with_progress_last() -> None:
    shards = 4
    clock = PartitionClockLogic(shards, step=1.0, resume=None)
    ids = [f"id-{i}" for i in range(40)]
    records = [(pid.encode(), prediction(pid, T0 + i), i) for i, pid in enumerate(ids)]
    decoded = decode_batch(MessageBatch("preds", 1, records, []), labels_topic="labs")

    routed, _ = clock.on_batch([decoded])

    assert len({shard for shard, _ in routed}) == len(routed) == shards   # one list per shard
    for shard, items in routed:
        *events, marker = items
        assert [item[1] for item in events] == [pid for pid in ids if shard_of(pid, shards) == shard]
        assert all(item[0] == PREDICTION_ITEM for item in events)
        assert marker[0] == PROGRESS_ITEM and marker[1].event_time == T0 + 39
    assert clock.snapshot() == (PREDICTIONS, 1, T0 + 39, T0 + 39, None)


def test_partition_clock_without_progress_sends_only_the_shards_that_have_events() -> None:
    clock = PartitionClockLogic(8, step=60.0, resume=(LABELS, 0, T0, T0))
    decoded = decode_batch(MessageBatch("labs", 0, [(b"a", label("a", T0 + 1), 5)], []), labels_topic="labs")

    routed, _ = clock.on_batch([decoded])

    assert routed == [(shard_of("a", 8), [(LABEL_ITEM, "a", decoded.events[0].event)])]


def test_join_shard_answers_a_call_with_one_list_of_outcomes() -> None:
    settings = JoinSettings(input_partitions=((PREDICTIONS, 1), (LABELS, 1)))
    logic = JoinShardLogic(settings, report_pending_at_end=False, clock_step=60.0, resume=None, recovery=False)
    p = decode_batch(MessageBatch("preds", 0, [(b"a", prediction("a", T0), 0)], []), "labs").events[0]
    lab = decode_batch(MessageBatch("labs", 0, [(b"a", label("a", T0 + 30), 0)], []), "labs").events[0]

    quiet, _ = logic.on_batch([[(PREDICTION_ITEM, "a", p.event)]])
    joined, _ = logic.on_batch([[(LABEL_ITEM, "a", lab.event)]])

    assert quiet == []
    assert len(joined) == 1 and [o.kind for o in joined[0]] == [JOINED]
    assert logic.snapshot() is None   # no recovery store: nothing pickled


def test_router_groups_items_per_slo_in_outcome_order() -> None:
    slo_file = parse_slo_yaml("""
slos:
  - {name: a-precision, model_id: a, metric: precision, positive_label: 1, objective: 0.9, window: 1h}
  - {name: a-recall, model_id: a, metric: recall, positive_label: 1, objective: 0.9, window: 1h}
  - {name: b-precision, model_id: b, metric: precision, positive_label: 1, objective: 0.9, window: 1h}
""")
    outcomes = [
        Outcome(PREDICTIONS_SEEN, "", ("a", (), T0, 3)),
        Outcome(PREDICTIONS_SEEN, "", ("b", (), T0, 1)),
        Outcome(CLOCK, "shard-0", T0 + 60),
    ]

    routed = dict(SloRouter(slo_file).route(outcomes))

    assert sorted(routed) == ["a-precision", "a-recall", "b-precision"]
    assert [item[0] for item in routed["a-precision"]] == [PREDICTIONS_ITEM, CLOCK_ITEM]
    assert [item[0] for item in routed["b-precision"]] == [PREDICTIONS_ITEM, CLOCK_ITEM]
    assert all(item[1] == name for name, items in routed.items() for item in items)
    assert JOINED_ITEM not in {item[0] for items in routed.values() for item in items}


def test_rejected_labels_become_counted_dead_letter_records_of_the_labels_topic() -> None:
    from prometheus_client import REGISTRY

    from flows.join_flow import _rejected_dead_letters
    from flows.join_state import LABEL_REJECTED, PendingLabel

    def counted() -> float:
        return REGISTRY.get_sample_value("slo_monitor_dead_lettered_total", {"topic": "labs-rejected"}) or 0.0

    before = counted()
    rejected = Outcome(LABEL_REJECTED, "p1", (PendingLabel(T0, 1, "churn", "ana", 3, 41), "model churn, not fraud"))
    assert _rejected_dead_letters([Outcome(CLOCK, "0"), rejected], "labs-rejected", "7") == (
        "7", [("labs-rejected.dlq", b"p1", orjson.dumps({
            "topic": "labs-rejected", "partition": 3, "offset": 41, "error": "model churn, not fraud",
            "raw": orjson.dumps({"prediction_id": "p1", "label": 1, "timestamp": "2025-01-06T00:00:00Z",
                                 "model_id": "churn", "reviewer": "ana"}).decode()}))])
    assert counted() == before + 1
    assert _rejected_dead_letters([Outcome(CLOCK, "0")], "labs-rejected", "7") is None
    assert counted() == before + 1

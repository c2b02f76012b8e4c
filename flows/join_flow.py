"""The join dataflow: predictions and labels from Kafka, joined by prediction_id.

    predictions ─┐                       ┌─ <topic>.dlq (undecodable, invalid, rejected)
                 ├─ decode ─ partition ─ join shards ─┬─ joined-labels
    labels ──────┘           clock                    └─ metrics (every outcome)

`build_join_flow` returns the Dataflow and, through `outcome_sink`, lets a test or a later
stage (the SLO engine) see every outcome.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import bytewax.operators as op
import orjson
from bytewax.dataflow import Dataflow, Stream
from bytewax.outputs import Sink

from flows import metrics
from flows.dead_letter_writer import DeadLetterSink, RejectedRecords, has_spare_cpu
from flows.decode_stage import DecodedBatch, decode_batch
from flows.join_operator import JoinShardLogic
from flows.join_state import (
    CLOCK,
    JOINED,
    LABEL_REJECTED,
    LABELS,
    PREDICTIONS,
    RECORD_OUTCOMES,
    JoinSettings,
    Outcome,
)
from flows.kafka_clients import RepeatFilter, common_config, consumer_config, producer_config
from flows.kafka_sink import OutRecord, ProducerSink, local_key
from flows.partition_clock import PartitionClockLogic
from flows.settings import FlowSettings, Topics
from flows.kafka_source import MessageBatch, MonitorKafkaSource
from flows.topics import partition_counts
from schemas.dead_letter import dead_letter_json
from schemas.joined import JoinedRecord
from schemas.timestamps import format_event_time

# Consumer errors come once per poll while the broker is away: every one is counted in
# KAFKA_ERRORS, each distinct line is logged at most once per 30 s (a flooded, undrained
# stderr once stalled the process).
log = logging.getLogger(__name__)
log.addFilter(RepeatFilter())


def build_join_flow(
    settings: FlowSettings,
    outcome_sink: Sink[Outcome] | None = None,
    flow_id: str = "slo-monitor-join",
) -> Dataflow:
    flow = Dataflow(flow_id)
    outcomes = join_stream(flow, settings)
    joined_output(outcomes, settings)
    if outcome_sink is not None:
        op.output("outcomes-out", op.flat_map("outcomes-one-by-one", outcomes, one_by_one), outcome_sink)
    return flow


def joined_output(outcomes: Stream[list[Outcome]], settings: FlowSettings) -> None:
    """Write every joined record to the joined topic (for inspection and offline analysis)."""
    topic, key = settings.topics.joined, local_key(settings.process_id)
    op.output(
        "write-joined",
        op.filter_map("encode-joined", outcomes, lambda batch: _joined_records(batch, topic, key)),
        ProducerSink(producer_config(settings), settings.process_id, settings.processes),
    )


def join_stream(
    flow: Dataflow, settings: FlowSettings, detail_models: frozenset[str] = frozenset()
) -> Stream[list[Outcome]]:
    """Inputs, decoding, dead letters and the join; returns every join outcome, in lists.

    Items are batches throughout (a fetched batch, then one list per shard, then the shard's
    outcomes), so Bytewax's per-item cost is paid per batch, not per record.
    Predictions of `detail_models` also come out whole, as `PREDICTION_DETAIL` outcomes of the
    shard that received them (the join state itself keeps only the compact `PendingPrediction`).
    """
    topics = settings.topics
    join_settings = with_input_partitions(settings)
    consumers = consumer_config(settings)
    consumers.pop("bootstrap.servers")
    inputs = [
        op.input(step, flow, MonitorKafkaSource(settings.brokers(), [topic], tail=settings.tail,
                                                add_config=consumers, batch_size=settings.batch_size))
        for step, topic in (("predictions-in", topics.predictions), ("labels-in", topics.labels))
    ]
    keep_details = detail_models.__contains__ if detail_models else None
    helper = has_spare_cpu()   # a dead-letter helper process words the reasons the flow leaves unworded
    decoded = op.map("decode", op.merge("inputs", *inputs),
                     lambda batch: _counted_decode(batch, topics.labels, keep_details, worded=not helper))
    with_events = op.filter("with-events", decoded, lambda batch: bool(batch.events))
    by_partition = op.key_on("by-partition", with_events, lambda batch: f"{batch.source}#{batch.partition}")
    routed = op.stateful_batch(
        "partition-clock",
        by_partition,
        lambda resume: PartitionClockLogic(settings.shards, settings.watermark_step, resume,
                                           far_ahead=join_settings.max_label_delay),
    )
    to_shards = op.map("to-shards", routed, lambda keyed: keyed[1])   # (shard, items)
    keyed_outcomes = op.stateful_batch(
        "join",
        to_shards,
        lambda resume: JoinShardLogic(join_settings, settings.report_pending_at_end, settings.evaluation_step, resume,
                                      settings.recovery),
    )
    outcomes = op.map("outcomes", keyed_outcomes, _counted_outcomes)
    key = local_key(settings.process_id)   # every dead letter is written by the process that made it
    op.output(
        "write-dead-letters",
        op.filter_map("undecodable", decoded, lambda batch: _undecodable(batch, topics, key)),
        DeadLetterSink(producer_config(settings), topics.labels, settings.process_id, settings.processes, helper),
    )
    op.output(
        "write-rejected-labels",
        op.filter_map("rejected-labels", outcomes, lambda batch: _rejected_dead_letters(batch, topics.labels, key)),
        ProducerSink(producer_config(settings), settings.process_id, settings.processes),
    )
    return outcomes


def with_input_partitions(settings: FlowSettings) -> JoinSettings:
    """The join settings with each input's partition count, read from the broker.

    Kafka's source lists partitions once at start-up too, so the counts cannot change under a
    running flow.
    """
    if settings.join.input_partitions:
        return settings.join
    counts = partition_counts(common_config(settings), list(settings.topics.inputs()))
    missing = [topic for topic in settings.topics.inputs() if topic not in counts]
    if missing:
        raise RuntimeError(f"input topics do not exist: {', '.join(missing)}")
    return replace(
        settings.join,
        input_partitions=((PREDICTIONS, counts[settings.topics.predictions]), (LABELS, counts[settings.topics.labels])),
    )


def _counted_decode(batch: MessageBatch, labels_topic: str, keep_details: Any = None,
                    worded: bool = True) -> DecodedBatch:
    for error in batch.errors:
        metrics.KAFKA_ERRORS.inc()
        log.warning("%s: Kafka consumer error: %s", batch.topic, error)
    metrics.labelled(metrics.RECORDS_IN, batch.topic).inc(len(batch.records))
    decoded = decode_batch(batch, labels_topic, keep_details, worded)
    if decoded.rejected:
        metrics.labelled(metrics.DEAD_LETTERED, batch.topic).inc(len(decoded.rejected))
    return decoded


def _undecodable(batch: DecodedBatch, topics: Topics, key: str) -> tuple[str, RejectedRecords] | None:
    """The records a batch rejected, for the dead-letter writer (keyed `key` for this process's own
    partition)."""
    if not batch.rejected:
        return None
    topic = topics.labels if batch.source == LABELS else topics.predictions
    return key, RejectedRecords(topic, batch.partition, batch.rejected)


def _counted_outcomes(keyed: tuple[str, list[Outcome]]) -> list[Outcome]:
    shard, outcomes = keyed
    counts: dict[str, int] = {}
    delays: list[float] = []
    for index, outcome in enumerate(outcomes):
        kind = outcome.kind
        if kind == CLOCK:
            outcomes[index] = outcome._replace(prediction_id=shard)  # the engine needs to know whose clock it is
        elif kind in RECORD_OUTCOMES:
            counts[kind] = counts.get(kind, 0) + 1
            if kind == JOINED:
                delays.append(max(0.0, outcome.detail.label_delay))
    for kind, count in counts.items():
        metrics.labelled(metrics.JOIN_OUTCOMES, kind).inc(count)
    if delays:
        metrics.LABEL_DELAY.observe_all(delays)
    return outcomes


def one_by_one(items: list) -> list:
    """For `flat_map`: a list item's elements, one by one (test sinks see single outcomes)."""
    return items


def _rejected_dead_letters(outcomes: list[Outcome], labels_topic: str, key: str) -> tuple[str, list[OutRecord]] | None:
    """The dead-letter records of the labels the join rejected (counted), keyed `key` for this
    process's `ProducerSink` partition."""
    to_topic = Topics.dead_letter(labels_topic)
    rejected = [_new(OutRecord, (to_topic, outcome.prediction_id.encode(), _rejected_json(outcome, labels_topic)))
                for outcome in outcomes if outcome.kind == LABEL_REJECTED]
    if not rejected:
        return None
    metrics.labelled(metrics.DEAD_LETTERED, labels_topic).inc(len(rejected))
    return key, rejected


def _rejected_json(outcome: Outcome, labels_topic: str) -> bytes:
    """The rejected label as it was understood (the original bytes are not kept in the join)."""
    label, reason = outcome.detail
    raw = orjson.dumps(
        {
            "prediction_id": outcome.prediction_id,
            "label": label.label,
            "timestamp": format_event_time(label.labeled_at),
            "model_id": label.model_id,
            "reviewer": label.reviewer,
        }
    )
    return dead_letter_json(labels_topic, label.partition, label.offset, reason, raw)


# Builds a NamedTuple from all its fields without its Python-level __new__ (a third of the cost):
# one OutRecord per joined label and per rejected one.
_new = tuple.__new__


def _joined_records(outcomes: list[Outcome], topic: str, key: str) -> tuple[str, list[OutRecord]] | None:
    """The joined labels' records, keyed `key` for this process's `ProducerSink` partition."""
    new, dumps = _new, orjson.dumps   # an OutRecord per joined label, without its Python-level __new__
    records = [new(OutRecord, (topic, detail.prediction_id.encode(), dumps(joined_to_dict(detail))))
               for kind, _, detail in outcomes if kind == JOINED]
    return (key, records) if records else None


def joined_to_dict(record: JoinedRecord) -> dict:
    return {
        "prediction_id": record.prediction_id,
        "model_id": record.model_id,
        "model_version": record.model_version,
        "predicted_at": format_event_time(record.predicted_at),
        "labeled_at": format_event_time(record.labeled_at),
        "predicted_label": record.predicted_label,
        "label": record.label,
        "review_probability": record.review_probability,
        "score": record.score,
        "segment": record.segment,
        "reviewer": record.reviewer,
    }


__all__: list[str] = ["build_join_flow", "join_stream", "joined_to_dict", "one_by_one"]

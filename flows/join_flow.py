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
from bytewax.connectors.kafka import KafkaSourceMessage
from bytewax.dataflow import Dataflow, Stream
from bytewax.outputs import Sink

from flows import metrics
from flows.decode_stage import DecodedEvent, decode_message
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
    PendingLabel,
)
from flows.kafka_clients import RepeatFilter, common_config, consumer_config, producer_config
from flows.kafka_sink import OutRecord, ProducerSink
from flows.partition_clock import PartitionClockLogic
from flows.settings import FlowSettings
from flows.kafka_source import MonitorKafkaSource
from flows.topics import partition_counts
from schemas.dead_letter import DeadLetter
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
        op.output("outcomes-out", outcomes, outcome_sink)
    return flow


def joined_output(outcomes: Stream[Outcome], settings: FlowSettings) -> None:
    """Write every joined record to the joined topic (for inspection and offline analysis)."""
    joined = op.filter("joined", outcomes, lambda outcome: outcome.kind == JOINED)
    op.output(
        "write-joined",
        op.map("encode-joined", joined, lambda o: _joined_record(o.detail, settings.topics.joined)),
        ProducerSink(producer_config(settings)),
    )


def join_stream(flow: Dataflow, settings: FlowSettings, detail_models: frozenset[str] = frozenset()) -> Stream[Outcome]:
    """Inputs, decoding, dead letters and the join; returns every join outcome.

    Predictions of `detail_models` also come out whole, as `PREDICTION_DETAIL` outcomes of the
    shard that received them (the join state itself keeps only the compact `PendingPrediction`).
    """
    topics = settings.topics
    join_settings = with_input_partitions(settings)
    sink = ProducerSink(producer_config(settings))
    consumers = consumer_config(settings)
    consumers.pop("bootstrap.servers")
    streams = []
    for step, topic in (("predictions-in", topics.predictions), ("labels-in", topics.labels)):
        source = MonitorKafkaSource(
            settings.brokers(),
            [topic],
            tail=settings.tail,
            add_config=consumers,
            batch_size=settings.batch_size,
            raise_on_errors=False,
        )
        read = op.branch(f"{step}-ok", op.input(step, flow, source), lambda m: isinstance(m, KafkaSourceMessage))
        op.inspect(f"{step}-errors", read.falses, _log_consumer_error)
        streams.append(read.trues)
    messages = op.merge("inputs", *streams)
    keep_details = detail_models.__contains__ if detail_models else None
    decoded = op.map("decode", messages, lambda m: _counted_decode(m, topics.labels, keep_details))
    split = op.branch("valid", decoded, lambda item: isinstance(item, DecodedEvent))
    by_partition = op.key_on("by-partition", split.trues, lambda e: f"{e.source}#{e.partition}")
    routed = op.stateful_batch(
        "partition-clock",
        by_partition,
        lambda resume: PartitionClockLogic(settings.shards, settings.watermark_step, resume),
    )
    to_shards = op.map("to-shards", routed, lambda keyed: keyed[1])
    keyed_outcomes = op.stateful_batch(
        "join",
        to_shards,
        lambda resume: JoinShardLogic(join_settings, settings.report_pending_at_end, settings.evaluation_step, resume,
                                      settings.recovery),
    )
    outcomes = op.map("outcomes", keyed_outcomes, _counted_outcome)
    rejected = op.filter_map(
        "rejected-labels", outcomes, lambda o: _rejected_dead_letter(o, topics.labels)
    )
    dead_letters = op.merge("dead-letters", split.falses, rejected)
    op.output(
        "write-dead-letters",
        op.map("encode-dead-letters", dead_letters, lambda d: _dead_letter_record(d, settings)),
        sink,
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


def _counted_decode(message: Any, labels_topic: str, keep_details: Any = None) -> DecodedEvent | DeadLetter:
    metrics.labelled(metrics.RECORDS_IN, message.topic).inc()
    return decode_message(message, labels_topic, keep_details)


def _counted_outcome(keyed: tuple[str, Outcome]) -> Outcome:
    shard, outcome = keyed
    if outcome.kind == CLOCK:
        return outcome._replace(prediction_id=shard)  # the engine needs to know whose clock it is
    if outcome.kind in RECORD_OUTCOMES:
        metrics.labelled(metrics.JOIN_OUTCOMES, outcome.kind).inc()
    if outcome.kind == JOINED:
        metrics.LABEL_DELAY.observe(max(0.0, outcome.detail.label_delay))
    return outcome


def _rejected_dead_letter(outcome: Outcome, labels_topic: str) -> DeadLetter | None:
    if outcome.kind != LABEL_REJECTED:
        return None
    label, reason = outcome.detail
    return DeadLetter(
        labels_topic,
        label.partition,
        label.offset,
        reason,
        _label_json(outcome.prediction_id, label),
        outcome.prediction_id.encode(),
    )


def _label_json(prediction_id: str, label: PendingLabel) -> bytes:
    """The rejected label as it was understood (the original bytes are not kept in the join)."""
    return orjson.dumps(
        {
            "prediction_id": prediction_id,
            "label": label.label,
            "timestamp": format_event_time(label.labeled_at),
            "model_id": label.model_id,
            "reviewer": label.reviewer,
        }
    )


def _dead_letter_record(dead: DeadLetter, settings: FlowSettings) -> OutRecord:
    metrics.DEAD_LETTERED.labels(dead.topic).inc()
    return OutRecord(settings.topics.dead_letter(dead.topic), dead.key, dead.to_json())


def _joined_record(record: JoinedRecord, topic: str) -> OutRecord:
    return OutRecord(topic, record.prediction_id.encode(), orjson.dumps(joined_to_dict(record)))


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


def _log_consumer_error(step_id: str, error: Any) -> None:
    metrics.KAFKA_ERRORS.inc()
    log.warning("%s: Kafka consumer error: %s", step_id, error.err)


__all__: list[str] = ["build_join_flow", "join_stream", "joined_to_dict"]

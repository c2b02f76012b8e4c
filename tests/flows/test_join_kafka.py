"""The join flow on the real broker: every input record is accounted for exactly once."""

from __future__ import annotations

import random
from collections import Counter

import orjson
import pytest
from bytewax.testing import TestingSink, run_main

from flows.join_flow import build_join_flow
from flows.join_state import (
    JOINED,
    LABEL_DUPLICATE,
    LABEL_EXPIRED,
    LABEL_PENDING,
    LABEL_REJECTED,
    PREDICTION_DUPLICATE,
    PREDICTION_EXPIRED,
    PREDICTION_PENDING,
    JoinSettings,
)
from flows.settings import FlowSettings, Topics
from flows.topics import ensure_topics
from schemas.timestamps import format_event_time
from tests.kafka_support import produce, read_all, read_json, unique_topic

pytestmark = pytest.mark.kafka

T0 = 1_790_000_000.0
MAX_DELAY = 1800.0   # a prediction waits 30 minutes of label progress for its label
MARGIN = 300.0       # a label waits until predictions are 5 minutes past it


def topics_for_test() -> Topics:
    stem = unique_topic("join")
    return Topics(predictions=f"{stem}-predictions", labels=f"{stem}-labels", joined=f"{stem}-joined")


def run_join(bootstrap: str, topics: Topics, shards: int = 8) -> list:
    ensure_topics({"bootstrap.servers": bootstrap}, [*topics.inputs(), *topics.join_outputs()], partitions=3)
    settings = FlowSettings(
        bootstrap_servers=bootstrap,
        topics=topics,
        join=JoinSettings(max_label_delay=MAX_DELAY, label_wait_margin=MARGIN),
        shards=shards,
        tail=False,
        report_pending_at_end=True,
    )
    outcomes: list = []
    run_main(build_join_flow(settings, outcome_sink=TestingSink(outcomes)))
    return outcomes


def prediction(pid: str, at: float, model: str = "fraud") -> bytes:
    return orjson.dumps(
        {
            "prediction_id": pid,
            "model_id": model,
            "model_version": "v7",
            "timestamp": format_event_time(at),
            "predicted_label": 1,
            "score": 0.93,
            "review_probability": 0.2,
            "segment": {"country": "DE"},
            "features": {"amount": 12.5},
        }
    )


def label(pid: str, at: float, model: str | None = None) -> bytes:
    body = {"prediction_id": pid, "label": 0, "timestamp": at, "reviewer": "r1"}
    if model:
        body["model_id"] = model
    return orjson.dumps(body)


def test_join_accounts_for_every_record(kafka_bootstrap):
    rng = random.Random(7)
    topics = topics_for_test()
    ensure_topics({"bootstrap.servers": kafka_bootstrap}, [topics.predictions, topics.labels], partitions=3)

    predictions: list[tuple[float, str]] = [(T0 + i * 2.0, f"p{i}") for i in range(4000)]  # 2h13m
    labelled = [p for p in predictions if rng.random() < 0.6]
    label_events = [(at + rng.uniform(0, 1200), pid) for at, pid in labelled]  # delay <= 20 min
    duplicate_labels = rng.sample(label_events, 150)
    never_matching = [(T0 + rng.uniform(0, 7000), f"ghost{i}") for i in range(200)]
    wrong_model = rng.sample(labelled, 20)
    wrong_model_ids = {pid for _, pid in wrong_model}
    duplicate_predictions = rng.sample(predictions, 40)

    bad_predictions = [b"{not json", b"", b"[1, 2]", b"\xff\xfe\x00", b'{"prediction_id": "x"}'] * 10 + [
        orjson.dumps({"prediction_id": f"bad{i}", "model_id": "fraud", "timestamp": T0, "predicted_label": 1, "score": 3})
        for i in range(25)
    ]
    bad_labels = [b"nope", b'{"prediction_id": "p1", "label": 1.5, "timestamp": 1790000000}'] * 20

    # Labels topic in label-time order, predictions topic in prediction-time order, with the
    # junk, the duplicates and the contradicting labels mixed in.
    label_stream = sorted(
        [(at, pid, label(pid, at)) for at, pid in label_events if pid not in wrong_model_ids]
        + [(at + 1, pid, label(pid, at + 1)) for at, pid in duplicate_labels if pid not in wrong_model_ids]
        + [(at, pid, label(pid, at)) for at, pid in never_matching]
        + [(at + 5, pid, label(pid, at + 5, model="churn")) for at, pid in wrong_model]
    )
    prediction_stream = sorted(
        [(at, pid, prediction(pid, at)) for at, pid in predictions]
        + [(at + 0.5, pid, prediction(pid, at + 0.5)) for at, pid in duplicate_predictions]
    )
    prediction_records = [(pid.encode(), value) for _, pid, value in prediction_stream]
    for junk in bad_predictions:
        prediction_records.insert(rng.randrange(len(prediction_records)), (b"junk", junk))
    label_records = [(pid.encode(), value) for _, pid, value in label_stream]
    for junk in bad_labels:
        label_records.insert(rng.randrange(len(label_records)), (b"junk", junk))
    produce(kafka_bootstrap, topics.predictions, prediction_records)
    produce(kafka_bootstrap, topics.labels, label_records)

    outcomes = run_join(kafka_bootstrap, topics)

    kinds = Counter(outcome.kind for outcome in outcomes)
    prediction_dlq = read_json(kafka_bootstrap, f"{topics.predictions}.dlq")
    label_dlq = read_json(kafka_bootstrap, f"{topics.labels}.dlq")
    joined_topic = read_json(kafka_bootstrap, topics.joined)

    # Predictions: every record is joined, dead-lettered, a duplicate, expired or pending.
    assert len(prediction_dlq) == len(bad_predictions)
    assert kinds[PREDICTION_DUPLICATE] == len(duplicate_predictions)
    assert (
        kinds[JOINED] + kinds[PREDICTION_EXPIRED] + kinds[PREDICTION_PENDING] + kinds[PREDICTION_DUPLICATE]
        + len(prediction_dlq) == len(prediction_records)
    )
    # Labels: joined, dead-lettered (undecodable or contradicting), duplicate, expired or pending.
    assert kinds[LABEL_REJECTED] == len(wrong_model)
    assert len(label_dlq) == len(bad_labels) + len(wrong_model)
    assert kinds[LABEL_DUPLICATE] == len([1 for _, pid in duplicate_labels if pid not in wrong_model_ids])
    assert (
        kinds[JOINED] + kinds[LABEL_EXPIRED] + kinds[LABEL_PENDING] + kinds[LABEL_DUPLICATE]
        + len(label_dlq) == len(label_records)
    )
    # What was joined is exactly the labelled predictions (each label's delay is within the
    # limit, so none may be lost to expiry), once each, and the topic holds the same.
    joined_ids = [outcome.prediction_id for outcome in outcomes if outcome.kind == JOINED]
    assert sorted(joined_ids) == sorted(pid for _, pid in labelled if pid not in wrong_model_ids)
    assert sorted(record["prediction_id"] for record in joined_topic) == sorted(joined_ids)
    # Ghost labels never join; unlabelled predictions expire once labels are 30 min past them.
    ghost_ends = Counter(o.kind for o in outcomes if o.prediction_id.startswith("ghost"))
    assert ghost_ends[LABEL_EXPIRED] + ghost_ends[LABEL_PENDING] == len(never_matching)
    assert ghost_ends[LABEL_EXPIRED] > 150
    unlabelled = {pid for _, pid in predictions} - {pid for _, pid in labelled}
    expired = {o.prediction_id for o in outcomes if o.kind == PREDICTION_EXPIRED}
    assert expired <= unlabelled | wrong_model_ids and len(expired) > 0.7 * len(unlabelled)

    # Dead letters carry their reason and the original bytes.
    reasons = " | ".join(record["error"] for record in prediction_dlq)
    assert "not valid JSON" in reasons and "score: must be in [0, 1]" in reasons
    assert "model_id is required" in reasons.replace("model_id: is required", "model_id is required")
    assert any(record.get("raw_encoding") == "base64" for record in prediction_dlq)
    assert any("does not match the prediction's model_id" in record["error"] for record in label_dlq)
    sample = next(record for record in joined_topic if record["prediction_id"] == joined_ids[0])
    assert sample["model_version"] == "v7" and sample["segment"] == {"country": "DE"}


def test_join_state_returns_to_zero_when_labels_never_come(kafka_bootstrap):
    """Predictions whose labels never arrive leave the state once labels progress past them."""
    topics = topics_for_test()
    predictions = [(T0 + i, f"q{i}") for i in range(3000)]
    # A trickle of labels for other ids carries label progress far past every prediction.
    progress_labels = [(T0 + 600 * i, f"other{i}") for i in range(30)]
    ensure_topics({"bootstrap.servers": kafka_bootstrap}, [topics.predictions, topics.labels], partitions=3)
    produce(kafka_bootstrap, topics.predictions, [(pid.encode(), prediction(pid, at)) for at, pid in predictions])
    produce(kafka_bootstrap, topics.labels, [(pid.encode(), label(pid, at)) for at, pid in progress_labels])

    outcomes = run_join(kafka_bootstrap, topics)

    kinds = Counter(outcome.kind for outcome in outcomes)
    assert kinds[PREDICTION_EXPIRED] == len(predictions)
    assert kinds[PREDICTION_PENDING] == 0 and kinds[JOINED] == 0
    assert read_all(kafka_bootstrap, topics.joined) == []

"""Traffic that follows a rollback: `TrafficGenerator.serve_version`, the `model-control`
follower, and `simulate --follow-model-control` (issue 10's loop closed in the demo)."""

from __future__ import annotations

import time

import orjson
import pytest

from flows.topics import ensure_topics
from simulator import cli
from simulator.closed_loop import FOLLOW_CHUNK_EVENTS, start_followers, stop_followers
from simulator.scenarios import bad_version
from tests.kafka_support import produce, unique_topic
from tests.simulator.sim_helpers import HOUR, START, Collected, collect, flagged_label_precision, make_generator


def test_after_serve_version_every_prediction_has_that_version_and_its_behaviour():
    """The bad version's lower precision ends with it; the switch comes at the next chunk."""
    gen = make_generator(bad_version(change_at=HOUR, rollout_share=1.0), hours=4, rate=20_000,
                         chunk_events=FOLLOW_CHUNK_EVENTS)
    events = []
    for kind, t, record in gen.events():
        if gen.serving is None and t >= START + 2 * HOUR:
            gen.serve_version("v1")   # as the follower's thread does, between two events
        events.append((kind, t, record))
    served_from = gen.serving[1]
    assert gen.serving[0] == "v1" and START + 2 * HOUR <= served_from < START + 2 * HOUR + 120
    versions = {(t >= served_from, r["model_version"]) for k, t, r in events if k == "prediction" and t > START + HOUR}
    assert versions == {(False, "v2"), (True, "v1")}

    collected = collect(make_generator(bad_version(change_at=HOUR, rollout_share=1.0), hours=4, rate=20_000))
    precision_bad, _ = flagged_label_precision(collected, START + 2.5 * HOUR, START + 4 * HOUR)
    rolled_back = Collected(events, [(t, r) for k, t, r in events if k == "prediction"],
                            [(t, r) for k, t, r in events if k == "label"])
    precision_after, n = flagged_label_precision(rolled_back, START + 2.5 * HOUR, START + 4 * HOUR)
    assert n > 300 and precision_bad == pytest.approx(0.80, abs=0.03)
    assert precision_after == pytest.approx(0.97, abs=0.02)   # the base behaviour again


def test_an_empty_version_is_refused():
    with pytest.raises(ValueError, match="version must not be empty"):
        make_generator(bad_version()).serve_version("")


def test_following_needs_live_kafka_output(capsys):
    assert cli.main(["--dry-run", "--hours", "1", "--follow-model-control", "model-control"]) == 2
    assert "need Kafka output and --speed or --realtime" in capsys.readouterr().err


@pytest.mark.kafka
def test_the_follower_serves_the_version_a_rollback_record_names(kafka_bootstrap):
    topic = unique_topic("sim-model-control")
    ensure_topics({"bootstrap.servers": kafka_bootstrap}, [topic], partitions=2)
    gen = make_generator(bad_version(change_at=HOUR, rollout_share=1.0), hours=2, model_id="fraud-detector")
    produce(kafka_bootstrap, topic, [
        (b"other-model", orjson.dumps({"model_id": "other-model", "from_version": "v2", "to_version": "v9"})),
        (b"fraud-detector", b"not json"),
    ])
    followers = start_followers(gen, kafka_bootstrap, model_control=topic)
    try:
        [follower] = followers
        assert gen.chunk_events == FOLLOW_CHUNK_EVENTS and follower.applied == 0 and gen.serving is None
        produce(kafka_bootstrap, topic, [(b"fraud-detector", orjson.dumps({
            "model_id": "fraud-detector", "from_version": "v2", "to_version": "v1", "reason": "SLO breach",
            "alert_id": "a-1"}))])
        deadline = time.monotonic() + 30
        while follower.applied == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert follower.applied == 1 and follower.error is None
    finally:
        stop_followers(followers)
    versions = {r["model_version"] for k, _, r in gen.events() if k == "prediction"}
    assert versions == {"v1"} and gen.serving == ("v1", pytest.approx(START, abs=60))


@pytest.mark.kafka
def test_following_a_missing_topic_fails_with_its_name(kafka_bootstrap):
    gen = make_generator(bad_version(), hours=1)
    missing = unique_topic("no-such-topic")
    with pytest.raises(RuntimeError, match=f"could not follow topic {missing}: topic {missing} not found"):
        start_followers(gen, kafka_bootstrap, model_control=missing, wait=5)

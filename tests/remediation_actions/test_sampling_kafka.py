"""Raised review sampling over Kafka: the executor publishes the raise on the compacted topic, the
simulator's follower applies it to a running generator, and both go back to baseline on expiry
(the executor's wall clock is injected so the test does not wait hours)."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from simulator.durations import parse_time
from simulator.model import Behaviour
from simulator.review_sampling_consumer import ReviewSamplingFollower
from simulator.scenarios import stable
from simulator.streams import TrafficGenerator
from tests.kafka_support import produce
from tests.remediation.support import kafka_record, wait_for
from tests.remediation_actions.support import audit, breach, playbooks, records, running, settings, settled, topics

pytestmark = pytest.mark.kafka

CONFIG = playbooks({"defaults": {"raise_review_sampling": {"baseline": 0.05, "factor": 4, "cap": 0.5,
                                                           "duration": "2h"}}})


class Clock:
    """A wall clock the test moves forward."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def test_raise_reaches_the_generator_and_ends_on_time_also_across_a_restart(kafka_bootstrap):
    clock = Clock(time.time())
    model = "sampled-model"
    alert = breach(0, model_id=model, severity="error", alert_id="ep-sampling", remediation=["raise_review_sampling"])
    generator = TrafficGenerator(stable(Behaviour(review_probability_unflagged=0.05)), start=0, duration=3600,
                                 rate_per_hour=100, model_id=model)
    with topics(kafka_bootstrap) as names:
        s = settings(kafka_bootstrap, names, tracking_uri=None, config=CONFIG)
        with running(s, clock=clock):
            produce(kafka_bootstrap, s.alerts_topic, [kafka_record(alert)])
            settled(kafka_bootstrap, s, 1, "raise")
        ((key, value),) = records(kafka_bootstrap, s.review_sampling_topic)
        assert key == model
        assert {k: value[k] for k in ("model_id", "rate", "expires_at")} == {
            "model_id": model, "rate": 0.2, "expires_at": "2026-11-26T14:00:00Z"}

        # records the follower must leave alone: another model's raise, and a record that is not JSON
        produce(kafka_bootstrap, s.review_sampling_topic, [
            (b"other-model", b'{"model_id": "other-model", "rate": 0.9, "expires_at": null, "reason": "manual"}'),
            (b"junk-model", b"not json")])
        follower = ReviewSamplingFollower(generator, kafka_bootstrap, s.review_sampling_topic).start()
        try:
            assert follower.caught_up.wait(20), "follower did not catch up"
            expires = value["expires_at"]
            assert generator.review_rate_override(model, parse_time(expires) - 1) == 0.2
            assert generator.review_rate_override(model, parse_time(expires)) is None   # ends in event time

            # a restarted executor finds the raise in force on the topic and ends it on time
            restarted = replace(s, group_id=s.group_id + "-2")
            with running(restarted, clock=clock) as thread:
                assert thread.service.raises.active(model) is not None
                clock.now += 2 * 3600 + 1
                wait_for(lambda: records(kafka_bootstrap, s.review_sampling_topic)[-1] == (model, None),
                         timeout=60, what="tombstone")
            wait_for(lambda: generator.review_rate_override(model, 0.0) is None, what="follower applied the tombstone")
        finally:
            follower.stop()
        assert follower.error is None and follower.applied == 2
        assert generator.review_rate_override("other-model", 0.0) is None
    decided = audit(kafka_bootstrap, s.actions_topic)
    assert [(a["outcome"], a["rule"]) for a in decided] == [
        ("done", "playbook"), ("skipped", "duplicate"),          # the restarted group re-read the alert
        ("expired", "expired")]
    assert decided[2]["reason"].startswith(f"review rate of {model} back to baseline 0.05 (was 0.2): wall clock passed")
    assert decided[2]["alert_id"] == "ep-sampling" and decided[2]["slo"] == "fraud-precision"

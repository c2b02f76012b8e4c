"""Follow the `review-sampling` topic and apply each record to a running generator, as a real
review tool would follow the remediation playbooks' raised rates.

Records of the generator's model are applied with `apply_review_sampling`; tombstones clear the
override. `TrafficGenerator.set_review_rate` is safe to call from the follower's thread.

    follower = ReviewSamplingFollower(generator, "127.0.0.1:9092").start()
    follower.caught_up.wait(10)      # raises in force are applied before traffic starts
    run_simulation(generator, sink, realtime=True, speed=60)
    follower.stop()
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import orjson

from simulator.review_sampling import apply_review_sampling
from simulator.streams import TrafficGenerator
from simulator.topic_follower import TopicFollower

log = logging.getLogger(__name__)


class ReviewSamplingFollower(TopicFollower):
    """Applies review-sampling records to `generator` from a background thread."""

    def __init__(self, generator: TrafficGenerator, bootstrap_servers: str, topic: str = "review-sampling",
                 kafka_config: Mapping[str, str] | None = None):
        super().__init__(bootstrap_servers, topic, kafka_config)
        self.generator = generator

    def apply(self, key: bytes | None, value: bytes | None) -> bool:
        model_id = key.decode("utf-8", "replace") if key else None
        record = None
        if value is not None:
            record = orjson.loads(value)
            model_id = record.get("model_id") or model_id
        if model_id != self.generator.model_id:
            return False
        apply_review_sampling(self.generator, record, model_id=model_id)
        change = "back to baseline" if record is None else f"rate {record.get('rate')} until {record.get('expires_at')}"
        log.info("review sampling of %s: %s", model_id, change)
        return True

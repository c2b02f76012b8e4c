"""Follow the `model-control` topic and serve the version each rollback record names, as a serving
system would: from then on the generator's traffic comes from that version, with its behaviour.

The executor publishes `{"model_id", "from_version", "to_version", "reason", "alert_id"}` keyed
by model_id (CONTRACT.md). Records of other models are left alone.

    follower = ModelControlFollower(generator, "127.0.0.1:9092").start()
    run_simulation(generator, sink, realtime=True, speed=360)
    follower.stop()
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import orjson

from simulator.streams import TrafficGenerator
from simulator.topic_follower import TopicFollower

log = logging.getLogger(__name__)


class ModelControlFollower(TopicFollower):
    """Applies rollback records to `generator` from a background thread."""

    def __init__(self, generator: TrafficGenerator, bootstrap_servers: str, topic: str = "model-control",
                 kafka_config: Mapping[str, str] | None = None):
        super().__init__(bootstrap_servers, topic, kafka_config)
        self.generator = generator

    def apply(self, key: bytes | None, value: bytes | None) -> bool:
        if value is None:
            return False
        record = orjson.loads(value)
        model_id = record.get("model_id") or (key.decode("utf-8", "replace") if key else None)
        if model_id != self.generator.model_id:
            return False
        version = record["to_version"]
        if not isinstance(version, str):
            raise TypeError(f"to_version must be a string, not {type(version).__name__}")
        self.generator.serve_version(version)
        log.info("model %s: serving version %s from now on (rolled back from %s)", model_id, version,
                 record.get("from_version"))
        return True

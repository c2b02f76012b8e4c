"""Traffic that follows the remediation, for live simulations: the served version switches on a
rollback record (`model-control`), the review rate rises with a `review-sampling` record.

Only meaningful in real time (`--speed`): fast-forwarded traffic is written before any alert.
"""

from __future__ import annotations

from collections.abc import Mapping

from simulator.model_control_consumer import ModelControlFollower
from simulator.review_sampling_consumer import ReviewSamplingFollower
from simulator.streams import TrafficGenerator
from simulator.topic_follower import TopicFollower

# Events per generated chunk while following: a rollback applies from the next chunk, so chunks
# must be short in event time (64 events: under a minute at thousands of predictions an hour).
FOLLOW_CHUNK_EVENTS = 64


def start_followers(generator: TrafficGenerator, bootstrap_servers: str, *, model_control: str | None = None,
                    review_sampling: str | None = None, kafka_config: Mapping[str, str] | None = None,
                    wait: float = 30.0) -> list[TopicFollower]:
    """Followers of the given topics, started and caught up with what the topics already hold."""
    followers: list[TopicFollower] = []
    if model_control:
        followers.append(ModelControlFollower(generator, bootstrap_servers, model_control, kafka_config))
    if review_sampling:
        followers.append(ReviewSamplingFollower(generator, bootstrap_servers, review_sampling, kafka_config))
    if followers:
        generator.chunk_events = min(generator.chunk_events, FOLLOW_CHUNK_EVENTS)
    for follower in followers:
        follower.start()
    for follower in followers:
        if not follower.caught_up.wait(wait):
            stop_followers(followers)
            raise RuntimeError(f"could not follow topic {follower.topic}: "
                               f"{follower.error or f'not caught up within {wait:g} s'}")
    return followers


def stop_followers(followers: list[TopicFollower]) -> None:
    for follower in followers:
        follower.stop()

"""Time: out-of-order events, clock skew between producers, labels later than allowed, and
duplicate predictions with different content, each handled as documented (docs/reliability.md).

Pure state (the join shard and the SLO engine), no Kafka: the Kafka-level "replay equals live"
and "crash and resume" tests in tests/flows already run these states over real topics. What
exists there and is not repeated here: the slowest partition governs progress, an early label
waits for its prediction, duplicates are never joined twice, a step counts exactly the labels
reviewed before it.
"""

from __future__ import annotations

from flows.engine_state import SloEngine
from flows.join_state import (
    CLOCK,
    JOINED,
    LABEL_EXPIRED,
    LABELS,
    PREDICTION_DUPLICATE,
    PREDICTION_EXPIRED,
    PREDICTIONS,
    PREDICTIONS_SEEN,
    JoinSettings,
    JoinShard,
    PendingLabel,
    PendingPrediction,
)
from schemas.joined import JoinedRecord
from slo.snapshots import StatusSnapshot
from slo.spec import parse_slo_yaml

T0 = 1_790_000_040.0 // 60 * 60
HOUR = 3600.0
SETTINGS = JoinSettings(max_label_delay=24 * HOUR, label_wait_margin=600.0, expiry_granularity=60.0)


def prediction(at: float, label: int = 1, country: str = "US", version: str = "v1") -> PendingPrediction:
    return PendingPrediction(at, "fraud", version, label, 1.0, 0.9, (("country", country),))


def label(at: float, value: int = 1) -> PendingLabel:
    return PendingLabel(at, value, None, "alice", 0, 7)


def test_duplicate_prediction_with_different_content_first_wins_and_is_counted_once():
    shard = JoinShard(SETTINGS)
    assert shard.add_prediction("p1", prediction(T0, label=1, country="US", version="v1")) is None
    duplicate = shard.add_prediction("p1", prediction(T0 + 30, label=0, country="DE", version="v2"))
    assert duplicate.kind == PREDICTION_DUPLICATE  # counted (metric and joined-topic accounting)
    [joined] = shard.add_label("p1", label(T0 + 60, value=0))
    record = joined.detail
    assert joined.kind == JOINED
    assert (record.predicted_label, record.segment, record.model_version, record.predicted_at) == (
        1, {"country": "US"}, "v1", T0)
    # prediction counts are held per minute until the shard's clock passes it; all of them here
    seen = [o.detail for o in shard.held_counts() if o.kind == PREDICTIONS_SEEN]
    assert seen == [("fraud", (("country", "US"),), T0, 1)], "the duplicate is not a second prediction"


def test_out_of_order_events_within_a_partition_still_join_and_progress_never_goes_back():
    shard = JoinShard(SETTINGS)
    shard.advance(PREDICTIONS, 0, T0 + 1000)
    assert shard.advance(PREDICTIONS, 0, T0 + 10) == [] and shard.watermark(PREDICTIONS) == T0 + 1000
    shard.add_prediction("old", prediction(T0 + 10))     # arrives after newer ones
    [joined] = shard.add_label("old", label(T0 + 40))
    assert joined.kind == JOINED and joined.detail.predicted_at == T0 + 10


def test_clock_skew_between_producers_delays_evaluation_instead_of_dropping_the_slow_one():
    """Partition 1's producer stamps event times ten minutes behind partition 0's."""
    shard = JoinShard(JoinSettings(max_label_delay=24 * HOUR, label_wait_margin=600.0, expiry_granularity=60.0,
                                   input_partitions=((PREDICTIONS, 2), (LABELS, 1))))
    shard.advance(PREDICTIONS, 0, T0 + HOUR)
    shard.advance(LABELS, 0, T0 + HOUR)
    assert [o for o in shard.signals(60.0) if o.kind == CLOCK] == [], "no clock until every partition is heard"
    shard.advance(PREDICTIONS, 1, T0 + HOUR - 600)
    [clock] = [o.detail for o in shard.signals(60.0) if o.kind == CLOCK]
    assert clock == T0 + HOUR - 600                      # the slow producer governs
    shard.add_prediction("skewed", prediction(T0 + HOUR - 600))
    [joined] = shard.add_label("skewed", label(T0 + HOUR - 500))
    assert joined.kind == JOINED


def test_label_later_than_the_maximum_delay_is_counted_as_expired_and_never_joined():
    shard = JoinShard(SETTINGS)
    shard.add_prediction("p1", prediction(T0))
    outcomes = shard.advance(PREDICTIONS, 0, T0 + 25 * HOUR) + shard.advance(LABELS, 0, T0 + 25 * HOUR)
    assert [(o.kind, o.prediction_id) for o in outcomes] == [(PREDICTION_EXPIRED, "p1")]
    assert shard.add_label("p1", label(T0 + 25 * HOUR + 60)) == []   # waits: its prediction is gone
    late = shard.advance(PREDICTIONS, 0, T0 + 25 * HOUR + 60 + 600 + 120)  # past its margin
    assert [(o.kind, o.prediction_id) for o in late] == [(LABEL_EXPIRED, "p1")]
    assert shard.size() == 0


def test_label_reviewed_before_an_evaluated_step_is_counted_late_in_the_next_one():
    slos = parse_slo_yaml("slos: [{name: p, model_id: m, metric: precision, positive_label: 1, objective: 0.95,"
                          " window: 1h, min_labels: 1}]")
    engine = SloEngine(slos, "p", shards=1, lateness=0.0, step=60.0)
    engine.add_joined(JoinedRecord("a", "m", "v1", T0, T0 + 30, 1, 1, 1.0))
    first = [o for o in engine.clock("shard-0", T0 + 120) if isinstance(o, StatusSnapshot)]
    engine.add_joined(JoinedRecord("b", "m", "v1", T0 + 5, T0 + 40, 1, 0, 1.0))  # reviewed before T0 + 120
    assert engine.late_labels == 1
    after = [o for o in engine.clock("shard-0", T0 + 180) if isinstance(o, StatusSnapshot)]
    assert first[-1].labels == 1 and after[-1].labels == 2       # counted once, in the next step

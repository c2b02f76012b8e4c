"""SloEngine: the evaluation clock and determinism, without Kafka or Bytewax."""

from __future__ import annotations

import random

from flows.engine_state import SloEngine
from schemas.joined import JoinedRecord
from slo.snapshots import AlertEvent, StatusSnapshot
from slo.spec import parse_slo_yaml

SLOS = parse_slo_yaml(
    "slos: [{name: p, model_id: m, metric: precision, positive_label: 1, objective: 0.95,"
    " window: 1h, min_labels: 30, segments: [country]}]"
)
T0 = 1_790_000_040.0 // 60 * 60


def engine(shards: int = 2) -> SloEngine:
    return SloEngine(SLOS, "p", shards=shards, lateness=0.0, step=60.0)


def traffic(seed: int, hours: float = 6.0, collapse_at: float = 3.0) -> list[JoinedRecord]:
    """Flagged predictions, labelled 30-300 s later; precision 0.98, then 0.7 after the collapse."""
    rng = random.Random(seed)
    records = []
    for index in range(int(hours * 600)):
        predicted_at = T0 + index * 6.0
        precision = 0.98 if predicted_at < T0 + collapse_at * 3600 else 0.7
        records.append(JoinedRecord(
            f"id{index}", "m", "v1", predicted_at, predicted_at + rng.uniform(30, 300), 1,
            int(rng.random() < precision), 1.0, segment={"country": rng.choice(["US", "DE"])},
        ))
    return records


def feed(target: SloEngine, records: list[JoinedRecord], clock_every: float) -> list:
    """Deliver records in label order, moving both shards' clocks every `clock_every` seconds."""
    outputs, next_clock = [], T0 + clock_every
    for record in sorted(records, key=lambda r: r.labeled_at):
        while record.labeled_at >= next_clock:
            outputs += target.clock("shard-0", next_clock) + target.clock("shard-1", next_clock)
            next_clock += clock_every
        target.add_joined(record)
    end = records[-1].labeled_at + 600
    return outputs + target.clock("shard-0", end) + target.clock("shard-1", end)


def as_comparable(outputs: list) -> list:
    return [o.to_record() for o in outputs]


def test_nothing_is_evaluated_until_every_shard_has_a_clock():
    subject = engine()
    subject.add_joined(traffic(1)[0])
    assert subject.clock("shard-0", T0 + 3600) == []
    assert subject.clock("shard-1", T0 + 3600) != []


def test_a_step_counts_exactly_the_labels_reviewed_before_it():
    subject = engine(shards=1)
    subject.add_joined(JoinedRecord("a", "m", "v1", T0, T0 + 30, 1, 1, 1.0))
    subject.add_joined(JoinedRecord("b", "m", "v1", T0, T0 + 150, 1, 1, 1.0))
    before = [o for o in subject.clock("shard-0", T0 + 120) if isinstance(o, StatusSnapshot)]
    after = [o for o in subject.clock("shard-0", T0 + 180) if isinstance(o, StatusSnapshot)]
    assert before[-1].labels == 1 and after[-1].labels == 2


def test_clock_granularity_does_not_change_any_output():
    records = traffic(7)
    minute_by_minute = feed(engine(), records, clock_every=60.0)
    in_big_jumps = feed(engine(), records, clock_every=5400.0)
    assert any(isinstance(o, AlertEvent) and o.severity == "critical" for o in minute_by_minute)
    alerts = lambda outputs: [o.to_record() for o in outputs if isinstance(o, AlertEvent)]  # noqa: E731
    assert alerts(minute_by_minute) == alerts(in_big_jumps)
    last = lambda outputs: {o.key: o.to_record() for o in outputs if isinstance(o, StatusSnapshot)}  # noqa: E731
    assert last(minute_by_minute) == last(in_big_jumps)


def test_restored_snapshot_continues_exactly_like_the_original():
    records = sorted(traffic(11), key=lambda r: r.labeled_at)
    half = len(records) // 2
    original = engine()
    feed(original, records[:half], clock_every=60.0)
    restored = SloEngine.restore(original.snapshot())
    rest = records[half:]
    assert as_comparable(feed(original, rest, 60.0)) == as_comparable(feed(restored, rest, 60.0))


def test_prediction_counts_wait_for_their_minute_like_labels():
    subject = engine(shards=1)
    subject.add_predictions("m", (("country", "US"),), T0 + 300, 5)
    subject.clock("shard-0", T0 + 120)
    assert subject.trackers == {}  # the counts are for a minute not yet evaluated
    subject.clock("shard-0", T0 + 420)
    assert {key.segment for key in subject.trackers} == {None, "country=US"}


def test_routes_are_remembered_but_not_snapshotted():
    subject = engine(shards=1)
    subject.add_joined(JoinedRecord("a", "m", "v1", T0, T0 + 30, 1, 1, 1.0, segment={"country": "US", "plan": "pro"}))
    subject.add_predictions("m", (("country", "US"), ("plan", "pro")), T0, 3)
    subject.clock("shard-0", T0 + 120)
    # a dict segment and its items in the decoder's (sorted) order share one remembered route
    assert list(subject._routes) == [("m", (("country", "US"), ("plan", "pro")))]
    assert subject._trackers_for("m", {"plan": "pro", "country": "US"}) == list(subject.trackers.values())
    restored = SloEngine.restore(subject.snapshot())
    assert restored._routes == {}
    routed = restored._trackers_for("m", {"country": "US"})
    assert all(any(tracker is own for own in restored.trackers.values()) for tracker in routed)


def test_the_route_memory_is_bounded(monkeypatch):
    import flows.engine_state as engine_state

    monkeypatch.setattr(engine_state, "_MAX_ROUTES", 3)
    subject = engine(shards=1)
    for index in range(10):
        subject._trackers_for("m", {"country": f"c{index}"})
    assert len(subject._routes) <= 3
    assert len(subject.trackers) == 11   # whole model and ten countries: routes forgotten, trackers kept

"""The join shard without Kafka or Bytewax: matching, waiting, expiry and accounting."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from flows.join_state import (
    JOINED,
    LABEL_DUPLICATE,
    LABEL_EXPIRED,
    LABEL_PENDING,
    LABEL_REJECTED,
    LABELS,
    PREDICTION_DUPLICATE,
    PREDICTION_EXPIRED,
    PREDICTION_PENDING,
    PREDICTIONS,
    JoinSettings,
    JoinShard,
    PendingLabel,
    PendingPrediction,
)

T0 = 1_790_000_000.0
HOUR = 3600.0
SETTINGS = JoinSettings(max_label_delay=24 * HOUR, label_wait_margin=600.0, expiry_granularity=60.0)


def prediction(at: float, model: str = "fraud", label: int = 1) -> PendingPrediction:
    return PendingPrediction(at, model, "v1", label, 0.5, 0.9, (("country", "US"),))


def label(at: float, value: int = 1, model: str | None = None) -> PendingLabel:
    return PendingLabel(at, value, model, "alice", 0, 7)


def test_label_after_prediction_joins_with_both_sides_fields():
    shard = JoinShard(SETTINGS)
    assert shard.add_prediction("p1", prediction(T0)) is None
    [outcome] = shard.add_label("p1", label(T0 + 60, value=0))
    assert outcome.kind == JOINED
    record = outcome.detail
    assert (record.predicted_at, record.labeled_at, record.predicted_label, record.label) == (T0, T0 + 60, 1, 0)
    assert record.segment == {"country": "US"} and record.weight == 2.0 and record.reviewer == "alice"


def test_label_before_prediction_waits_and_joins():
    shard = JoinShard(SETTINGS)
    assert shard.add_label("p1", label(T0 + 60)) == []
    outcome = shard.add_prediction("p1", prediction(T0))
    assert outcome.kind == JOINED and not shard.labels


def test_early_label_expires_only_when_predictions_progress_past_its_time_plus_margin():
    shard = JoinShard(SETTINGS)
    shard.add_label("p1", label(T0))
    # Labels racing ahead for days must not expire a label: only prediction progress counts.
    assert shard.advance(LABELS, 0, T0 + 10 * 24 * HOUR) == []
    assert shard.advance(PREDICTIONS, 0, T0 + 500) == []
    assert [o.kind for o in shard.advance(PREDICTIONS, 0, T0 + 720)] == [LABEL_EXPIRED]
    assert shard.size() == 0


def test_prediction_expires_on_label_progress_not_on_prediction_progress():
    shard = JoinShard(SETTINGS)
    shard.add_prediction("p1", prediction(T0))
    assert shard.advance(PREDICTIONS, 0, T0 + 30 * 24 * HOUR) == []  # labels lag: keep waiting
    assert shard.advance(LABELS, 0, T0 + 23 * HOUR) == []
    assert [o.kind for o in shard.advance(LABELS, 0, T0 + 24 * HOUR + 61)] == [PREDICTION_EXPIRED]
    assert shard.size() == 0


def test_slowest_partition_governs_progress():
    shard = JoinShard(JoinSettings(label_wait_margin=600.0, input_partitions=((PREDICTIONS, 2), (LABELS, 1))))
    shard.add_label("p1", label(T0))
    shard.advance(PREDICTIONS, 0, T0 + 5000)
    shard.advance(PREDICTIONS, 1, T0 + 100)  # partition 1 is behind: the label keeps waiting
    assert shard.watermark(PREDICTIONS) == T0 + 100 and "p1" in shard.labels
    assert [o.kind for o in shard.advance(PREDICTIONS, 1, T0 + 5000)] == [LABEL_EXPIRED]


def test_without_known_partition_counts_the_partitions_heard_from_govern():
    shard = JoinShard(SETTINGS)
    shard.add_label("p1", label(T0))
    shard.advance(PREDICTIONS, 0, T0 + 300)
    shard.advance(PREDICTIONS, 1, T0 + 5000)
    assert shard.watermark(PREDICTIONS) == T0 + 300 and "p1" in shard.labels


def test_duplicates_are_reported_and_never_joined_twice():
    shard = JoinShard(SETTINGS)
    shard.add_prediction("p1", prediction(T0))
    assert shard.add_prediction("p1", prediction(T0 + 5)).kind == PREDICTION_DUPLICATE
    assert [o.kind for o in shard.add_label("p1", label(T0 + 60))] == [JOINED]
    assert [o.kind for o in shard.add_label("p1", label(T0 + 90))] == [LABEL_DUPLICATE]
    assert shard.add_prediction("p1", prediction(T0)).kind == PREDICTION_DUPLICATE
    shard.add_label("p2", label(T0))
    assert [o.kind for o in shard.add_label("p2", label(T0 + 1))] == [LABEL_DUPLICATE]


def test_label_for_another_model_is_rejected_and_the_prediction_keeps_waiting():
    shard = JoinShard(SETTINGS)
    shard.add_prediction("p1", prediction(T0, model="fraud"))
    [outcome] = shard.add_label("p1", label(T0 + 60, model="churn"))
    assert outcome.kind == LABEL_REJECTED and "churn" in outcome.detail[1]
    assert [o.kind for o in shard.add_label("p1", label(T0 + 61, model="fraud"))] == [JOINED]


def test_remembered_joined_ids_are_forgotten_after_the_maximum_delay():
    shard = JoinShard(SETTINGS)
    for index in range(100):
        shard.add_prediction(f"p{index}", prediction(T0 + index))
        shard.add_label(f"p{index}", label(T0 + index + 30))
    assert shard.size() == 100  # joined ids, kept to recognise duplicate labels
    shard.advance(PREDICTIONS, 0, T0 + 25 * HOUR)
    shard.advance(LABELS, 0, T0 + 25 * HOUR)
    assert shard.size() == 0


def test_snapshot_is_independent_of_later_changes():
    shard = JoinShard(SETTINGS)
    shard.add_prediction("p1", prediction(T0))
    copy = shard.snapshot()
    shard.add_label("p1", label(T0 + 1))
    shard.advance(LABELS, 0, T0 + 48 * HOUR)
    assert "p1" in copy.predictions and copy.size() == 1
    assert [o.kind for o in copy.advance(LABELS, 0, T0 + 48 * HOUR)] == [PREDICTION_EXPIRED]


# -- accounting under arbitrary interleavings ----------------------------------------------

event = st.one_of(
    st.tuples(st.just("p"), st.integers(0, 30), st.floats(0, 3 * 24 * HOUR)),
    st.tuples(st.just("l"), st.integers(0, 30), st.floats(0, 48 * HOUR)),
    st.tuples(st.just("w"), st.sampled_from([PREDICTIONS, LABELS]), st.floats(0, 6 * 24 * HOUR)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(event, max_size=120))
def test_every_record_ends_as_exactly_one_outcome(events):
    """Per id: predictions in = joined + expired + duplicate + pending, and the same for labels."""
    shard = JoinShard(SETTINGS)
    outcomes = []
    predictions_in: Counter = Counter()
    labels_in: Counter = Counter()
    prediction_time: dict[str, float] = {}
    accepted: Counter = Counter()   # predictions taken as new (not duplicates)
    for kind, number, time in events:
        if kind == "w":
            outcomes += shard.advance(number, 0, T0 + time)
            continue
        pid = f"p{number}"
        if kind == "p":
            predictions_in[pid] += 1
            added = shard.add_prediction(pid, prediction(T0 + time))
            new = [] if added is None else [added]
            if added is None or added.kind != PREDICTION_DUPLICATE:
                # the first prediction of an id wins; once the shard has forgotten the id (it
                # expired, or was joined longer than the maximum label delay ago) one sent again is new
                prediction_time[pid] = T0 + time
                accepted[pid] += 1
        else:
            labels_in[pid] += 1
            new = shard.add_label(pid, label(T0 + time))
        for outcome in new:
            if outcome.kind == JOINED:
                assert outcome.detail.predicted_at == prediction_time[outcome.prediction_id]
        outcomes += new
    outcomes += shard.pending()
    kinds_by_id: dict[str, Counter] = {}
    for outcome in outcomes:
        kinds_by_id.setdefault(outcome.prediction_id, Counter())[outcome.kind] += 1
    for pid in set(predictions_in) | set(labels_in):
        kinds = kinds_by_id.get(pid, Counter())
        assert kinds[JOINED] <= accepted[pid], "a prediction is joined at most once"
        prediction_ends = kinds[JOINED] + kinds[PREDICTION_EXPIRED] + kinds[PREDICTION_DUPLICATE] + kinds[PREDICTION_PENDING]
        label_ends = kinds[JOINED] + kinds[LABEL_EXPIRED] + kinds[LABEL_DUPLICATE] + kinds[LABEL_PENDING]
        assert prediction_ends == predictions_in[pid]
        assert label_ends == labels_in[pid]


def test_prediction_counts_are_held_until_the_clock_passes_their_minute_and_sent_once():
    from flows.join_state import CLOCK, PREDICTIONS_SEEN

    settings = JoinSettings(max_label_delay=24 * HOUR, input_partitions=((PREDICTIONS, 1), (LABELS, 1)))
    shard = JoinShard(settings)
    sent: list = []
    # predictions over 3 minutes, a few per batch, both inputs advancing behind them
    for second in range(0, 180, 10):
        shard.add_prediction(f"p{second}", prediction(T0 + second))
        shard.add_prediction(f"p{second}", prediction(T0 + second))   # duplicate: not counted
        shard.add_prediction(f"q{second}", prediction(T0 + second, model="other"))
        shard.advance(PREDICTIONS, 0, T0 + second)
        shard.advance(LABELS, 0, T0 + second)
        sent.extend(shard.signals(60.0))
    shard.add_prediction("late", prediction(T0))   # a minute the clock has passed: sent at once
    late = shard.signals(60.0)
    sent.extend(late + shard.held_counts())
    counts = [o.detail for o in sent if o.kind == PREDICTIONS_SEEN]
    keys = [(model, minute) for model, _, minute, _ in counts]
    assert len(keys) == len(set(keys)) + 1              # each (key, minute) once, except the late one
    assert sum(n for *_, n in counts) == 2 * 18 + 1     # every first prediction, once
    assert [o.detail[3] for o in late] == [1]
    # every minute's counts come before the first clock past that minute
    for index, outcome in enumerate(sent):
        if outcome.kind == CLOCK:
            later = [o.detail for o in sent[index + 1:] if o.kind == PREDICTIONS_SEEN and o is not late[0]]
            assert all(minute >= outcome.detail for _, _, minute, _ in later)


def test_a_snapshot_from_before_packing_and_per_minute_counts_is_restored():
    import pickle

    shard = JoinShard(SETTINGS)
    shard.add_prediction("p1", prediction(T0 + 5))
    state = {key: value for key, value in shard.__dict__.items() if key not in ("_metas", "_meta_index", "_meta_limit")}
    state["predictions"] = {"p1": prediction(T0 + 5)}                # PendingPrediction values
    state["_seen"] = {("fraud", (("country", "US"),), T0): 1}        # flat counts
    old = JoinShard.__new__(JoinShard)
    old.__dict__.update(state)
    restored = pickle.loads(pickle.dumps(old))
    assert [o.detail for o in restored.held_counts()] == [("fraud", (("country", "US"),), T0, 1)]
    assert restored.pending_prediction("p1") == prediction(T0 + 5)
    [joined] = restored.add_label("p1", label(T0 + 60))
    assert joined.kind == JOINED and joined.detail.predicted_at == T0 + 5


def test_pending_predictions_come_back_exactly_as_they_went_in():
    shard = JoinShard(SETTINGS)
    made = {
        "a": PendingPrediction(T0 + 0.123456789, "m", None, True, 1.0, None, ()),
        "b": PendingPrediction(T0, "m", None, 1, 0.1, 0.0, (("country", "US"),)),   # 1, not True
        "c": PendingPrediction(T0, "m", "v2", "fraud", 1e-9, 1.0, (("a", "x"), ("b", "y"))),
        "d": PendingPrediction(T0, "m", None, False, 0.3333333333333333, -0.0, ()),
    }
    for pid, pending in made.items():
        shard.add_prediction(pid, pending)
    for pid, pending in made.items():
        back = shard.pending_prediction(pid)
        assert back == pending and [type(x) for x in back] == [type(x) for x in pending]
    assert shard.snapshot().pending_prediction("c") == made["c"]


def test_the_table_of_distinct_prediction_attributes_stays_bounded():
    from flows.join_state import _MIN_META_TABLE

    shard = JoinShard(SETTINGS)
    for i in range(3 * _MIN_META_TABLE):   # a segment value per prediction; most get their label
        shard.add_prediction(f"p{i}", PendingPrediction(T0, "m", None, 1, 1.0, 0.5, (("user", str(i)),)))
        if i % 10:
            shard.add_label(f"p{i}", label(T0 + 1))
    assert len(shard._metas) <= 2 * _MIN_META_TABLE
    for i in range(0, 3 * _MIN_META_TABLE, 10):
        assert shard.pending_prediction(f"p{i}").segment == (("user", str(i)),)

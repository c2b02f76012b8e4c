"""Bucketed rolling windows against brute-force recomputation from the raw records.

Random streams with random sampling weights and random (sometimes very) late labels, fed in
arrival order with the watermark moving in random jumps; at every evaluation the tracker's window
sums must equal a direct recomputation over every record seen so far.
"""

from __future__ import annotations

import math
import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.joined import JoinedRecord
from schemas.labels import same_class
from slo.spec import parse_slo_yaml
from slo.tracker import SloTracker

START = 1_767_225_600.0
CLASSES = [0, 1, True, False, "1", "fraud"]


def _spec(metric: str, positive):
    label = repr(positive) if isinstance(positive, str) else str(positive).lower()
    return parse_slo_yaml(f"slos: [{{name: s, model_id: m, metric: {metric}, "
                          f"positive_label: {label}, objective: 0.9, min_labels: 3}}]").slos[0]


record_strategy = st.builds(
    lambda offset, delay, pred, label, p, v: JoinedRecord(
        "x", "m", v, START + offset, START + offset + delay, pred, label, p),
    offset=st.floats(0, 8 * 3600 - 1, allow_nan=False),
    delay=st.one_of(st.floats(0, 600), st.floats(0, 7 * 3600)),
    pred=st.sampled_from(CLASSES),
    label=st.sampled_from(CLASSES),
    p=st.one_of(st.sampled_from([1.0, 0.5, 0.2, 0.05]), st.floats(0.01, 1.0)),
    v=st.sampled_from([None, "v1", "v2"]),
)


def brute_force(records, spec, start: float, end: float) -> dict[str, float]:
    """Sums over records whose prediction time is in [start, end), straight from the definitions."""
    out = {"labels": 0, "hits": 0, "misses": 0, "hit_weight": 0.0, "miss_weight": 0.0,
           "hit_weight_sq": 0.0, "miss_weight_sq": 0.0, "unflagged": 0, "unflagged_weight": 0.0}
    for r in records:
        if not start <= r.predicted_at < end:
            continue
        flagged = same_class(r.predicted_label, spec.positive_label)
        actual = same_class(r.label, spec.positive_label)
        in_population, hit = (flagged, actual) if spec.metric == "precision" else (actual, flagged)
        w = 1.0 / r.review_probability
        out["labels"] += 1
        out["unflagged"] += not flagged
        out["unflagged_weight"] += w if not flagged else 0.0
        if in_population:
            out["hits" if hit else "misses"] += 1
            out["hit_weight" if hit else "miss_weight"] += w
            out["hit_weight_sq" if hit else "miss_weight_sq"] += w * w
    return out


def _same(counts, expected) -> None:
    for name, value in expected.items():
        got = getattr(counts, name)
        assert got == pytest.approx(value, rel=1e-9, abs=1e-9), name


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(record_strategy, max_size=60),
       lateness=st.floats(0, 3600),
       advance_after=st.lists(st.booleans(), min_size=60, max_size=60),
       metric=st.sampled_from(["precision", "recall"]),
       positive=st.sampled_from([1, "fraud"]))
def test_window_sums_equal_brute_force(records, lateness, advance_after, metric, positive):
    spec = _spec(metric, positive)
    tracker = SloTracker(spec)
    bucket = tracker.rules.bucket
    arrived = sorted(records, key=lambda r: r.labeled_at)
    seen: list[JoinedRecord] = []
    checks = 0
    span, ahead = tracker.rules.ring_buckets()
    for i, record in enumerate(arrived):
        dropped = tracker.ring.dropped_ahead
        tracker.observe(record)
        if tracker.ring.dropped_ahead > dropped:
            # only refused when more than `ahead` past the last evaluated step
            assert record.predicted_at // bucket >= tracker.last_step + ahead
            continue
        seen.append(record)
        if advance_after[i] or i == len(arrived) - 1:
            steps = tracker.advance_all(record.labeled_at - lateness)
            end = tracker.last_step * bucket
            for window in tracker.rules.windows:
                _same(tracker.window_counts(window), brute_force(seen, spec, end - window, end))
            if not steps:
                continue   # watermark did not pass a new step: nothing new evaluated
            snapshot = steps[-1][0]
            assert snapshot.event_time == end
            expected = brute_force(seen, spec, end - spec.window, end)
            assert snapshot.labels == expected["labels"]
            assert snapshot.labels_in_metric == expected["hits"] + expected["misses"]
            total = expected["hit_weight"] + expected["miss_weight"]
            observable = metric == "precision" or expected["unflagged"] > 0
            if total > 0 and observable:
                assert snapshot.estimate == pytest.approx(expected["hit_weight"] / total, rel=1e-9)
                # Kish's effective count of hits plus that of misses (slo/estimators.py)
                n_eff = sum(expected[f"{kind}_weight"] ** 2 / expected[f"{kind}_weight_sq"]
                            for kind in ("hit", "miss") if expected[f"{kind}_weight"] > 0)
                assert snapshot.effective_sample_size == pytest.approx(n_eff, rel=1e-9)
            else:
                assert snapshot.estimate is None
            checks += 1
    assert checks >= (1 if arrived else 0)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(record_strategy, min_size=1, max_size=50), cut=st.integers(0, 50))
def test_pickling_mid_stream_changes_nothing(records, cut):
    """A tracker restored from a pickle (a recovery snapshot) continues exactly as the original."""
    spec = _spec("precision", 1)
    arrived = sorted(records, key=lambda r: r.predicted_at)
    end = arrived[-1].predicted_at + 3600

    def run(split):
        tracker, outputs, fed = SloTracker(spec), [], 0
        for wm in range(int(START) + 60, int(end) + 60, 60):
            while fed < len(arrived) and arrived[fed].predicted_at < wm - 300:
                tracker.observe(arrived[fed])
                fed += 1
                if fed == split:
                    tracker = pickle.loads(pickle.dumps(tracker))
            for snapshot, events in tracker.advance_all(wm):
                outputs.append((snapshot.to_record(), [e.to_record() for e in events]))
        return outputs

    assert run(split=min(cut, len(arrived))) == run(split=None)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(record_strategy, min_size=2, max_size=50),
       jumps=st.lists(st.integers(1, 600), min_size=1, max_size=10),
       gap=st.integers(0, 24 * 60))
def test_watermark_increments_do_not_change_results(records, jumps, gap):
    """With the same data in hand, stepping minute by minute or in big jumps (also over long
    empty stretches) evaluates the same grid: identical statuses and alerts at every step."""
    spec = _spec("precision", 1)
    half = len(records) // 2
    first = records[:half]
    shift = 8 * 3600 + 60.0 * gap           # the second half comes after a quiet stretch
    second = [JoinedRecord(r.prediction_id, r.model_id, r.model_version, r.predicted_at + shift,
                           r.labeled_at + shift, r.predicted_label, r.label, r.review_probability)
              for r in records[half:]]
    checkpoint = START + shift - 3600        # both runs stop here and receive the second half
    end = START + shift + 10 * 3600

    def marks(step_minutes):
        out, t, i = [], START, 0
        for stop in (checkpoint, end):
            while t < stop:
                t = min(stop, t + 60.0 * step_minutes[i % len(step_minutes)])
                i += 1
                out.append(t)
        return out

    def run(watermarks):
        tracker = SloTracker(spec)
        for r in first:
            tracker.observe(r)
        snapshots, events = {}, []
        for wm in watermarks:
            for snapshot, evs in tracker.advance_all(wm):
                snapshots[snapshot.event_time] = snapshot.to_record()
                events.extend(e.to_record() for e in evs)
            if wm == checkpoint:
                for r in second:
                    tracker.observe(r)
        return snapshots, events

    steady_snaps, steady_events = run(marks([1]))
    jumpy_snaps, jumpy_events = run(marks(jumps))
    assert jumpy_events == steady_events
    assert jumpy_snaps.keys() <= steady_snaps.keys()
    for t, snap in jumpy_snaps.items():
        assert snap == steady_snaps[t]
    assert jumpy_snaps[end] == steady_snaps[end]


def test_late_label_updates_the_bucket_of_its_prediction():
    spec = _spec("precision", 1)
    tracker = SloTracker(spec)
    tracker.observe(JoinedRecord("a", "m", "v1", START + 30, START + 40, 1, 1, 1.0))
    first, _ = tracker.advance(START + 1800)
    assert first.labels == 1 and first.estimate == 1.0
    # a label reviewed 40 minutes later, for a prediction still inside the window
    tracker.observe(JoinedRecord("b", "m", "v1", START + 90, START + 2400, 1, 0, 0.5))
    second, _ = tracker.advance(START + 1860)
    assert second.labels == 2
    assert second.estimate == pytest.approx(1.0 / 3.0)     # weights 1 (hit) and 2 (miss)
    assert second.effective_sample_size == pytest.approx(2.0)   # the two labels


def test_labels_far_too_late_or_too_far_ahead_are_counted_not_used():
    spec = _spec("precision", 1)
    tracker = SloTracker(spec)
    tracker.advance(START + 10 * 3600)
    tracker.observe(JoinedRecord("old", "m", None, START, START + 10 * 3600, 1, 1, 1.0))
    tracker.observe(JoinedRecord("future", "m", None, START + 30 * 3600, START + 30 * 3600, 1, 1, 1.0))
    snapshot, _ = tracker.advance(START + 10 * 3600 + 60)
    assert (snapshot.dropped_late, snapshot.dropped_ahead) == (1, 1)
    assert snapshot.labels == 0


def test_bad_review_probability_is_refused():
    tracker = SloTracker(_spec("precision", 1))
    with pytest.raises(ValueError, match="review_probability"):
        tracker.observe(JoinedRecord("a", "m", None, START, START, 1, 1, 0.0))
    with pytest.raises(ValueError):
        tracker.observe(JoinedRecord("a", "m", None, START, START, 1, 1, math.nan))


def test_advance_is_idempotent():
    tracker = SloTracker(_spec("precision", 1))
    for i in range(40):
        tracker.observe(JoinedRecord(f"r{i}", "m", None, START + 60 * i, START + 60 * i, 1, 1, 1.0))
    first = tracker.advance(START + 3600)
    assert tracker.advance(START + 3600) == (first[0], [])
    assert tracker.advance(START + 1800) == (first[0], [])
    assert tracker.advance(START + 3659)[0] is first[0]
    assert tracker.advance(START + 3660)[0].event_time == START + 3660


def test_a_ring_pickled_before_the_unflagged_weights_existed_is_widened_on_load():
    from array import array

    from slo.buckets import FIELDS, UNFLAGGED, UNFLAGGED_W, BucketRing

    ring = BucketRing(width=60, span=3, ahead=1)
    old = [float(i) for i in range(9 * ring.size)]      # 9 fields per bucket, as pickled then
    ring.data = array("d", old)
    restored = pickle.loads(pickle.dumps(ring))
    rows = restored.view()
    assert rows.shape == (ring.size, FIELDS)
    assert rows[:, :9].ravel().tolist() == old
    # unflagged labels count at weight 1 until their buckets leave the window
    assert (rows[:, UNFLAGGED_W] == rows[:, UNFLAGGED]).all()
    assert pickle.loads(pickle.dumps(restored)).view().tolist() == rows.tolist(), "a new ring is left alone"

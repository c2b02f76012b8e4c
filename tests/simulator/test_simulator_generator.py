"""The generator: determinism, target precision/recall, review sampling, label timing, ordering."""

import statistics

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.simulator.sim_helpers import HOUR, START, collect, make_generator
from simulator.model import Behaviour, Population, unflagged_positive_rate
from simulator.scenarios import Scenario, stable
from simulator.streams import TrafficGenerator, merge_events


def test_same_seed_same_streams_and_different_seed_different():
    a = collect(make_generator(stable(), hours=2, seed=11)).events
    b = collect(make_generator(stable(), hours=2, seed=11)).events
    c = collect(make_generator(stable(), hours=2, seed=12)).events
    assert a == b
    assert len(a) > 1000
    assert a != c
    assert a[0][2]["prediction_id"] != c[0][2]["prediction_id"]  # ids differ between runs too


def test_realized_precision_and_recall_converge_to_targets():
    base = Behaviour(precision=0.9, recall=0.8, flagged_rate=0.05)
    gen = make_generator(stable(base), hours=24, rate=25_000)
    total = sum(len(b) for b in gen.batches())
    flagged = truth = tp = 0
    for b in gen.batches():
        f, y = b.outcomes.flagged.astype(bool), b.outcomes.truth.astype(bool)
        flagged += f.sum()
        truth += y.sum()
        tp += (f & y).sum()
    assert total == pytest.approx(24 * 25_000, rel=0.02)
    assert flagged / total == pytest.approx(0.05, abs=0.002)
    assert tp / flagged == pytest.approx(0.9, abs=0.01)      # ~30k flagged: sd ~0.002
    assert tp / truth == pytest.approx(0.8, abs=0.01)


def test_unflagged_positive_rate_formula_gives_the_recall():
    f, p, r = 0.02, 0.97, 0.9
    q = unflagged_positive_rate(f, p, r)
    tp, fn = f * p, (1 - f) * q
    assert tp / (tp + fn) == pytest.approx(r)


def test_impossible_targets_are_rejected():
    with pytest.raises(ValueError, match="unreachable"):
        Behaviour(flagged_rate=0.6, precision=1.0, recall=0.3)
    with pytest.raises(ValueError):
        Behaviour(precision=0)


def test_review_probability_is_stamped_and_sampling_happens_at_that_rate():
    base = Behaviour(review_probability_flagged=0.6, review_probability_unflagged=0.1)
    c = collect(make_generator(stable(base), hours=6, rate=20_000))
    labelled = {r["prediction_id"] for _, r in c.labels}
    for flag, p in ((1, 0.6), (0, 0.1)):
        preds = [r for _, r in c.predictions if r["predicted_label"] == flag]
        assert {r["review_probability"] for r in preds} == {p}
        share = sum(r["prediction_id"] in labelled for r in preds) / len(preds)
        sd = (p * (1 - p) / len(preds)) ** 0.5
        assert abs(share - p) < 5 * sd


def test_labels_follow_their_predictions_and_streams_are_time_ordered():
    c = collect(make_generator(stable(), hours=4))
    times = [t for _, t, _ in c.events]
    assert times == sorted(times)
    preds = c.by_id
    assert len(preds) == len(c.predictions)  # ids are unique
    for t, label in c.labels:
        pt, pred = preds[label["prediction_id"]]
        assert t >= pt
        assert label["model_id"] == pred["model_id"]
    assert len({r["prediction_id"] for _, r in c.labels}) == len(c.labels)  # one label each
    # The per-kind streams are each ordered too (they are what lands in each topic).
    for stream in (c.predictions, c.labels):
        ts = [t for t, _ in stream]
        assert ts == sorted(ts)


def test_label_delay_follows_the_configured_median_and_max():
    base = Behaviour(label_delay_median=300, label_delay_sigma=1.0, label_delay_max=1800)
    c = collect(make_generator(stable(base), hours=6))
    preds = c.by_id
    delays = [t - preds[r["prediction_id"]][0] for t, r in c.labels]
    assert statistics.median(delays) == pytest.approx(300, rel=0.1)
    assert max(delays) <= 1800 + 1e-3
    assert min(delays) >= base.label_delay_min - 1e-3


def test_score_carries_signal_and_agrees_with_the_decision():
    gen = make_generator(stable(Behaviour(precision=0.8)), hours=12)
    scores = {"tp": [], "fp": [], "fn": [], "tn": []}
    thr = gen.population.score_threshold
    for b in gen.batches():
        o = b.outcomes
        f, y = o.flagged.astype(bool), o.truth.astype(bool)
        assert (o.score[f] >= thr).all() and (o.score[~f] < thr).all()
        assert ((o.score >= 0) & (o.score <= 1)).all()
        for name, mask in (("tp", f & y), ("fp", f & ~y), ("fn", ~f & y), ("tn", ~f & ~y)):
            scores[name].extend(o.score[mask].tolist())
    mean = {k: np.mean(v) for k, v in scores.items()}
    assert mean["tp"] > mean["fp"] + 0.05
    assert mean["fn"] > mean["tn"] + 0.05


def test_traffic_rate_and_segment_mix():
    pop = Population(diurnal_amplitude=0.0)
    c = collect(make_generator(stable(), hours=5, rate=12_000, population=pop))
    assert len(c.predictions) == pytest.approx(60_000, rel=0.03)
    countries = [r["segment"]["country"] for _, r in c.predictions]
    assert countries.count("US") / len(countries) == pytest.approx(0.40, abs=0.01)
    assert countries.count("DE") / len(countries) == pytest.approx(0.12, abs=0.01)


def test_diurnal_traffic_peaks_in_the_afternoon():
    gen = make_generator(stable(), hours=24, rate=20_000)
    hours = np.concatenate([((b.times - START) // HOUR) for b in gen.batches()])
    per_hour = np.bincount(hours.astype(int), minlength=24)
    assert per_hour[15] > 1.4 * per_hour[3]


def test_label_tail_drops_late_labels():
    base = Behaviour(label_delay_median=1800, label_delay_max=7200)
    gen = make_generator(stable(base), hours=2, label_tail=0)
    c = collect(gen)
    assert all(t <= gen.end for t, _ in c.labels)
    assert gen.stats.labels_dropped > 0
    assert gen.stats.reviewed == gen.stats.labels + gen.stats.labels_dropped


def test_stats_match_the_emitted_stream():
    gen = make_generator(stable(), hours=3)
    c = collect(gen)
    assert gen.stats.predictions == len(c.predictions)
    assert gen.stats.labels == len(c.labels)
    assert gen.stats.flagged == sum(r["predicted_label"] for _, r in c.predictions)
    assert gen.stats.labels_positive == sum(r["label"] for _, r in c.labels)


def test_stopping_early_counts_only_what_was_handed_out():
    gen = make_generator(stable(), hours=3)
    events = gen.events()
    taken = [next(events) for _ in range(100)]
    events.close()
    assert gen.stats.predictions == sum(k == "prediction" for k, _, _ in taken)


def test_zero_rate_or_duration_yields_nothing():
    assert collect(make_generator(stable(), rate=0)).events == []
    assert collect(make_generator(stable(), hours=0)).events == []


def test_merge_events_of_two_models_is_time_ordered():
    a = make_generator(stable(), hours=1, model_id="model-a")
    b = make_generator(stable(), hours=1, model_id="model-b", seed=99)
    merged = list(merge_events(a.events(), b.events()))
    times = [t for _, t, _ in merged]
    assert times == sorted(times)
    assert {r["model_id"] for _, _, r in merged} == {"model-a", "model-b"}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    rate=st.floats(10, 20_000),
    hours=st.floats(0.01, 3),
    precision=st.floats(0.3, 1.0),
    recall=st.floats(0.3, 1.0),
    delay=st.floats(0, 7200),
    sigma=st.floats(0, 2),
    p_unflag=st.floats(0.001, 1.0),
    epoch=st.booleans(),
)
def test_stream_invariants_hold_for_any_configuration(seed, rate, hours, precision, recall, delay,
                                                      sigma, p_unflag, epoch):
    base = Behaviour(precision=precision, recall=recall, label_delay_median=delay,
                     label_delay_sigma=sigma, label_delay_max=max(delay, 1.0) * 3,
                     review_probability_unflagged=p_unflag)
    gen = TrafficGenerator(Scenario("custom", base), start=START, duration=hours * HOUR,
                           rate_per_hour=rate, seed=seed, timestamp_format="epoch" if epoch else "rfc3339")
    c = collect(gen)
    times = [t for _, t, _ in c.events]
    assert times == sorted(times)
    preds = c.by_id
    for t, label in c.labels:
        assert t >= preds[label["prediction_id"]][0]
    for t, pred in c.predictions:
        assert START <= t <= gen.end
        assert 0 < pred["review_probability"] <= 1
        assert isinstance(pred["timestamp"], float if epoch else str)
    assert gen.stats.reviewed == len(c.labels)

"""Named scenarios change what they claim to, when they claim to, and nothing else."""

import numpy as np
import pytest

from simulator.model import Behaviour
from simulator.scenarios import (SCENARIOS, Change, Rollout, Scenario, build_scenario,
                                 describe_scenarios, scenario_parameters)
from tests.simulator.sim_helpers import HOUR, START, collect, flagged_label_precision, make_generator

T = 3 * HOUR


def truth_precision(gen, lo, hi, where=None):
    """Ground-truth precision of predictions made in [lo, hi) (offsets), optionally filtered."""
    tp = flagged = 0
    for b in gen.batches():
        off = b.times - START
        mask = (off >= lo) & (off < hi) & b.outcomes.flagged.astype(bool)
        if where is not None:
            mask &= where(b)
        flagged += mask.sum()
        tp += (mask & b.outcomes.truth.astype(bool)).sum()
    return tp / flagged


def test_every_named_scenario_builds_and_runs():
    assert set(SCENARIOS) >= {"stable", "precision_drop", "gradual_decline", "low_traffic",
                              "segment_drop", "label_delay_spike", "feature_shift", "bad_version"}
    for name in SCENARIOS:
        params = {"change_at": HOUR} if "change_at" in scenario_parameters(name) else {}
        gen = make_generator(build_scenario(name, **params), hours=2, rate=2000)
        c = collect(gen)
        assert c.predictions and c.labels, name
    assert "precision_drop" in describe_scenarios()


def test_precision_drop_is_visible_in_labels_before_and_after_T_and_recovers():
    sc = build_scenario("precision_drop", change_at=T, precision_after=0.85, recover_at=2 * T)
    c = collect(make_generator(sc, hours=9, rate=30_000))
    before, n1 = flagged_label_precision(c, START, START + T)
    during, n2 = flagged_label_precision(c, START + T, START + 2 * T)
    after, n3 = flagged_label_precision(c, START + 2 * T, START + 3 * T)
    assert min(n1, n2, n3) > 1000
    assert before == pytest.approx(0.97, abs=0.02)
    assert during == pytest.approx(0.85, abs=0.03)
    assert after == pytest.approx(0.97, abs=0.02)


def test_gradual_decline_declines_steadily():
    sc = build_scenario("gradual_decline", change_at=HOUR, precision_after=0.80, ramp=8 * HOUR)
    gen = make_generator(sc, hours=9, rate=40_000)
    quarters = [truth_precision(gen, HOUR + k * 2 * HOUR, HOUR + (k + 1) * 2 * HOUR) for k in range(4)]
    assert quarters == sorted(quarters, reverse=True)
    assert truth_precision(gen, 0, HOUR) == pytest.approx(0.97, abs=0.02)
    assert quarters[-1] == pytest.approx(0.97 - 0.17 * 7 / 8, abs=0.03)  # mid-point of last quarter


def test_segment_drop_only_hits_one_segment():
    sc = build_scenario("segment_drop", change_at=T, segment="country=DE", precision_after=0.7)
    gen = make_generator(sc, hours=6, rate=40_000)
    de = lambda b: b.segments["country"] == "DE"  # noqa: E731
    other = lambda b: b.segments["country"] != "DE"  # noqa: E731
    assert truth_precision(gen, 0, T, de) == pytest.approx(0.97, abs=0.03)
    assert truth_precision(gen, T, 2 * T, de) == pytest.approx(0.70, abs=0.05)
    assert truth_precision(gen, 0, T, other) == pytest.approx(0.97, abs=0.015)
    assert truth_precision(gen, T, 2 * T, other) == pytest.approx(0.97, abs=0.015)


def test_bad_version_rolls_out_at_T_and_only_it_is_worse():
    sc = build_scenario("bad_version", change_at=T, new_version="v2", rollout_share=0.5,
                        precision_after=0.75, recover_at=2 * T)
    gen = make_generator(sc, hours=9, rate=30_000)
    c = collect(gen)
    by_version = {}
    for t, r in c.predictions:
        phase = 0 if t < START + T else 1 if t < START + 2 * T else 2
        by_version.setdefault(phase, []).append(r["model_version"])
    assert set(by_version[0]) == {"v1"} and set(by_version[2]) == {"v1"}
    assert by_version[1].count("v2") / len(by_version[1]) == pytest.approx(0.5, abs=0.02)
    v1 = lambda b: b.versions == "v1"  # noqa: E731
    v2 = lambda b: b.versions == "v2"  # noqa: E731
    assert truth_precision(gen, T, 2 * T, v1) == pytest.approx(0.97, abs=0.02)
    assert truth_precision(gen, T, 2 * T, v2) == pytest.approx(0.75, abs=0.04)


def test_label_delay_spike_slows_labels_after_T_only():
    sc = build_scenario("label_delay_spike", change_at=T, label_delay_after=2 * HOUR,
                        max_label_delay_after=10 * HOUR)
    c = collect(make_generator(sc, hours=6, rate=5000))
    preds = c.by_id
    before, after = [], []
    for t, label in c.labels:
        pt = preds[label["prediction_id"]][0]
        (before if pt < START + T else after).append(t - pt)
    assert np.median(before) == pytest.approx(120, rel=0.15)
    assert np.median(after) == pytest.approx(2 * HOUR, rel=0.15)
    assert max(after) <= 10 * HOUR + 1e-3


def test_feature_shift_moves_the_feature_first_and_precision_later():
    sc = build_scenario("feature_shift", change_at=2 * HOUR, feature="amount", shift=1.5,
                        drift_lag=2 * HOUR, ramp=0, precision_after=0.9)
    gen = make_generator(sc, hours=6, rate=30_000)
    c = collect(gen)
    amount = lambda lo, hi: np.median([r["features"]["amount"] for t, r in c.predictions  # noqa: E731
                                       if START + lo <= t < START + hi])
    assert amount(2 * HOUR, 6 * HOUR) > 3 * amount(0, 2 * HOUR)   # +1.5 sd of log(amount) = x5.2
    assert truth_precision(gen, 2 * HOUR, 4 * HOUR) == pytest.approx(0.97, abs=0.02)
    assert truth_precision(gen, 4 * HOUR, 6 * HOUR) == pytest.approx(0.90, abs=0.025)


def test_low_traffic_cuts_the_rate_and_recovers():
    sc = build_scenario("low_traffic", change_at=2 * HOUR, traffic_factor=0.1, recover_at=4 * HOUR)
    c = collect(make_generator(sc, hours=6, rate=20_000))
    per_phase = np.bincount([int((t - START) // (2 * HOUR)) for t, _ in c.predictions], minlength=3)
    assert per_phase[1] < 0.15 * per_phase[0]
    assert per_phase[2] > 0.7 * per_phase[0]


def test_custom_scenarios_are_plain_data():
    sc = Scenario("custom", Behaviour(precision=0.95), changes=(
        Change(HOUR, {"precision": 0.6}, segment={"channel": "pos"}, until=2 * HOUR),
        Change(HOUR, {"review_probability_unflagged": 0.5}),
    ), rollouts=(Rollout(HOUR, "v9", share=1.0),))
    gen = make_generator(sc, hours=3, rate=30_000)
    pos = lambda b: b.segments["channel"] == "pos"  # noqa: E731
    assert truth_precision(gen, HOUR, 2 * HOUR, pos) == pytest.approx(0.6, abs=0.08)
    assert truth_precision(gen, 2 * HOUR, 3 * HOUR, pos) == pytest.approx(0.95, abs=0.04)
    c = collect(gen)
    late = [r for t, r in c.predictions if t >= START + HOUR]
    assert {r["model_version"] for r in late} == {"v9"}
    assert {r["review_probability"] for r in late if r["predicted_label"] == 0} == {0.5}
    assert sc.boundaries() == [HOUR, 2 * HOUR]
    assert any("channel=pos" in line for line in sc.timeline())


def test_scenario_validation():
    with pytest.raises(ValueError, match="unknown behaviour knobs"):
        Change(0, {"precisoin": 0.5})
    with pytest.raises(ValueError, match="after the change"):
        Change(HOUR, {"precision": 0.5}, until=HOUR)
    with pytest.raises(ValueError, match="traffic_multiplier"):
        Change(0, {"traffic_multiplier": 2}, segment={"country": "DE"})
    with pytest.raises(ValueError):
        Scenario("x", changes=(Change(0, {"precision": 1.5}),))
    with pytest.raises(ValueError, match="unknown scenario"):
        build_scenario("nope")
    with pytest.raises(TypeError, match="takes"):
        build_scenario("stable", change_at=5)
    assert build_scenario("stable", ignore_unknown=True, change_at=5).changes == ()
    with pytest.raises(ValueError, match="key=value"):
        build_scenario("segment_drop", segment="DE")

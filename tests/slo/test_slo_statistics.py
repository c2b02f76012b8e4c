"""Oracle tests: interval values published by statsmodels, SRE-workbook burn rates, Kish."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import beta, binomtest

from slo.burn_rate import budget_consumed, burn_rate, threshold_for_budget, value_at_burn
from slo.durations import parse_duration
from slo.estimators import WindowCounts, estimate, kish_effective_size
from slo.intervals import Bounds, clopper_pearson_interval, wilson_interval, z_value

# statsmodels.stats.proportion.proportion_confint(count, nobs, alpha=0.05, method=...)
WILSON = {
    (95, 100): (0.8882495308, 0.9784563208),
    (18, 20): (0.6989663548, 0.9721335188),
    (29, 30): (0.8332960901, 0.9940914096),
    (30, 30): (0.8864866068, 1.0),
    (0, 30): (0.0, 0.1135133932),
}
BETA = {
    (95, 100): (0.8871650889, 0.9835681208),
    (18, 20): (0.6830172860, 0.9876514728),
    (30, 30): (0.8842966918, 1.0),
}


@pytest.mark.parametrize("counts, expected", sorted(WILSON.items()))
def test_wilson_matches_statsmodels(counts, expected):
    lower, upper = wilson_interval(*counts, confidence=0.95)
    assert lower == pytest.approx(expected[0], abs=1e-9)
    assert upper == pytest.approx(expected[1], abs=1e-9)


@pytest.mark.parametrize("counts, expected", sorted(BETA.items()))
def test_clopper_pearson_matches_statsmodels(counts, expected):
    lower, upper = clopper_pearson_interval(*counts, confidence=0.95)
    assert lower == pytest.approx(expected[0], abs=1e-9)
    assert upper == pytest.approx(expected[1], abs=1e-9)


def test_one_sided_bound_is_the_two_sided_one_at_twice_the_tail():
    # statsmodels' alternative="smaller" lower bound at alpha 0.05 is the 90% two-sided lower
    for method in ("wilson", "clopper-pearson"):
        b = Bounds(method)
        assert b.lower(0.95, 100, 0.95) == pytest.approx(b.interval(0.95, 100, 0.90)[0], abs=1e-12)
        assert b.upper(0.95, 100, 0.975) == pytest.approx(b.interval(0.95, 100, 0.95)[1], abs=1e-12)
    assert z_value(0.95, sides=1) == pytest.approx(1.6448536270, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 400), data=st.data(), confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_integer_counts_agree_with_scipy_binomtest(n, data, confidence):
    k = data.draw(st.integers(0, n))
    ci_w = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    ci_e = binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    assert wilson_interval(k, n, confidence) == pytest.approx((ci_w.low, ci_w.high), abs=1e-9)
    assert clopper_pearson_interval(k, n, confidence) == pytest.approx((ci_e.low, ci_e.high), abs=1e-7)


@settings(max_examples=200, deadline=None)
@given(p=st.floats(0.0, 1.0), n=st.floats(0.5, 20000.0), confidence=st.floats(0.5, 0.99999))
def test_clopper_pearson_is_the_beta_distributions_quantile_for_non_integer_n(p, n, confidence):
    # slo/intervals.py calls the beta quantile function itself (20x cheaper than the distribution
    # object); the bounds must be exactly the distribution's, as the engine's output is compared
    # across versions (bench/flow_cpu.py digests).
    x, tail = p * n, (1.0 - confidence) / 2.0
    lower, upper = clopper_pearson_interval(x, n, confidence)
    assert lower == (0.0 if x <= 1e-9 else float(beta.ppf(tail, x, n - x + 1.0)))
    assert upper == (1.0 if x >= n - 1e-9 else float(beta.ppf(1.0 - tail, x + 1.0, n - x)))


@settings(max_examples=60, deadline=None)
@given(p=st.floats(0.0, 1.0), n=st.floats(0.5, 5000.0), confidence=st.floats(0.5, 0.9999))
def test_bounds_bracket_the_estimate_for_non_integer_n(p, n, confidence):
    for method in ("wilson", "clopper-pearson"):
        lower, upper = Bounds(method).interval(p, n, confidence)
        assert 0.0 <= lower <= p + 1e-9 and p - 1e-9 <= upper <= 1.0


def test_wider_at_higher_confidence_and_narrower_with_more_labels():
    b = Bounds("wilson")
    assert b.upper(0.9, 100, 0.999) > b.upper(0.9, 100, 0.99) > b.upper(0.9, 100, 0.9)
    assert b.upper(0.9, 1000, 0.99) < b.upper(0.9, 100, 0.99)
    # Clopper-Pearson is the conservative one
    cp = Bounds("clopper-pearson")
    assert cp.upper(0.9, 100, 0.99) > b.upper(0.9, 100, 0.99)


def test_sre_workbook_burn_rates():
    month = parse_duration("30d")
    assert threshold_for_budget(0.02, parse_duration("1h"), month) == pytest.approx(14.4)
    assert threshold_for_budget(0.05, parse_duration("6h"), month) == pytest.approx(6.0)
    assert threshold_for_budget(0.10, parse_duration("3d"), month) == pytest.approx(1.0)
    # and back: burning at 14.4x for an hour spends 2% of a 30-day budget
    assert budget_consumed(14.4, parse_duration("1h"), month) == pytest.approx(0.02)
    # burn rate = error ratio / (1 - objective)
    assert burn_rate(1 - 0.0144, 0.999) == pytest.approx(14.4)
    assert value_at_burn(burn_rate(0.93, 0.95), 0.95) == pytest.approx(0.93)


def test_kish_effective_size():
    assert kish_effective_size(10.0, 10.0) == 10.0                 # equal weights: n
    assert kish_effective_size(2 * 10.0, 2 * 100.0) == pytest.approx(2.0)   # two labels of weight 10
    weights = [1.0] * 90 + [10.0] * 10
    n_eff = kish_effective_size(sum(weights), sum(w * w for w in weights))
    assert n_eff == pytest.approx(190.0 ** 2 / 1090.0)
    assert n_eff < len(weights)


def test_weighted_bounds_are_a_binomial_interval_on_the_reviewed_misses_mapped_back():
    # 90 hits of weight 1 and one miss of weight 10: HT precision 90 / 100 = 0.9
    c = WindowCounts(labels=91, hits=90, misses=1, hit_weight=90.0, miss_weight=10.0,
                     hit_weight_sq=90.0, miss_weight_sq=100.0)
    e = estimate(c, "precision", 30, Bounds("clopper-pearson"), 0.95)
    assert e.value == pytest.approx(0.9)
    assert e.n_eff == pytest.approx(91.0), "the reviewed labels, not more"
    # one miss in 91 reviewed labels, Clopper-Pearson, mapped through
    # b = 10: metric = (1 - q) / ((1 - q) + 10 q)
    q_low, q_high = 0.00027817897, 0.05971081282   # scipy.stats.beta.ppf(0.025, 1, 91), (0.975, 2, 90)
    assert e.lower == pytest.approx((1 - q_high) / ((1 - q_high) + 10 * q_high), rel=1e-5)
    assert e.upper == pytest.approx((1 - q_low) / ((1 - q_low) + 10 * q_low), rel=1e-5)
    assert e.sufficient
    # equal weights: the textbook interval on the labels themselves
    same = WindowCounts(labels=40, hits=36, misses=4, hit_weight=72.0, miss_weight=8.0,
                        hit_weight_sq=144.0, miss_weight_sq=16.0)
    plain = estimate(same, "precision", 30, Bounds("wilson"), 0.95)
    assert plain.n_eff == pytest.approx(40.0)
    assert (plain.lower, plain.upper) == pytest.approx(Bounds("wilson").interval(0.9, 40, 0.95))


def test_recall_with_no_reviewed_false_negative_is_not_certain():
    # every flagged prediction reviewed (97 true positives), 2% of the others (90 reviews, none
    # a false negative): one false negative among them would have stood for 50
    c = WindowCounts(labels=187, hits=97, hit_weight=97.0, hit_weight_sq=97.0, unflagged=90,
                     unflagged_weight=4500.0)
    e = estimate(c, "recall", 30, Bounds("clopper-pearson"), 0.95)
    assert e.value == 1.0 and e.upper == 1.0
    q_high = 1 - 0.025 ** (1 / 97)          # Clopper-Pearson with no miss in 97
    assert e.lower == pytest.approx((1 - q_high) / ((1 - q_high) + 50 * q_high), rel=1e-9)
    assert e.lower < 0.5, "could still be missing one positive in two"
    # the old reading: a 97-label binomial, whose lower bound was 0.963
    assert Bounds("clopper-pearson").interval(1.0, 97, 0.95)[0] > 0.96


def test_estimate_gates():
    few = WindowCounts(labels=10, hits=10, hit_weight=10.0, hit_weight_sq=10.0, unflagged=3)
    e = estimate(few, "precision", 30, Bounds("wilson"), 0.95)
    assert e.value == 1.0 and not e.sufficient and "fewer than min_labels 30" in e.why_insufficient
    none = estimate(WindowCounts(labels=10, unflagged=10), "precision", 1, Bounds("wilson"), 0.95)
    assert none.value is None and not none.sufficient
    # recall without any reviewed unflagged prediction: unknown, not 1.0
    blind = WindowCounts(labels=500, hits=500, hit_weight=500.0, hit_weight_sq=500.0, unflagged=0)
    e = estimate(blind, "recall", 30, Bounds("wilson"), 0.95)
    assert e.value is None and e.lower is None and not e.sufficient
    seen = WindowCounts(labels=600, hits=500, hit_weight=500.0, hit_weight_sq=500.0, unflagged=100)
    assert estimate(seen, "recall", 30, Bounds("wilson"), 0.95).value == 1.0


def test_z_value_rejects_nonsense():
    with pytest.raises(ValueError):
        z_value(1.0)
    assert math.isfinite(z_value(0.9999, 1))

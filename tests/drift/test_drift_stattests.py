"""KS, chi-square, two proportions, BH and the per-column comparison: right answers, right rates."""

from __future__ import annotations

import numpy as np
import pytest

from slo.drift.compare import compare_column
from slo.drift.config import DriftSpec
from slo.drift.fdr import bh_adjust, bh_reject
from slo.drift.stattests import (chi_square_goodness_of_fit, chi_square_homogeneity,
                                 ks_two_sample, two_proportions)

REPS = 1000
SE = np.sqrt(0.05 * 0.95 / REPS)
CATEGORIES = np.array([0.35, 0.15, 0.15, 0.10, 0.22, 0.03])


def test_ks_false_alarm_rate_and_power():
    rng = np.random.default_rng(1)
    null = [ks_two_sample(rng.normal(size=800), rng.normal(size=500)).p_value for _ in range(REPS)]
    assert abs(np.mean(np.array(null) <= 0.05) - 0.05) < 3 * SE
    shifted = ks_two_sample(rng.normal(size=5000), rng.normal(0.15, 1, size=2000))
    assert shifted.p_value < 1e-4


def test_ks_ignores_missing_values():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=500), rng.normal(size=500)
    b[::5] = np.nan
    assert ks_two_sample(a, b).p_value == ks_two_sample(a, b[~np.isnan(b)]).p_value


def test_two_sample_chi_square_keeps_alpha_where_goodness_of_fit_does_not():
    # equal sizes: the goodness-of-fit form treats the reference as exact and alarms far too often
    rng = np.random.default_rng(3)
    homogeneity, gof = [], []
    for _ in range(REPS):
        ref, cur = rng.multinomial(500, CATEGORIES), rng.multinomial(500, CATEGORIES)
        homogeneity.append(chi_square_homogeneity(ref, cur).p_value <= 0.05)
        gof.append(chi_square_goodness_of_fit(ref, cur).p_value <= 0.05)
    assert abs(np.mean(homogeneity) - 0.05) < 3 * SE
    assert 0.25 < np.mean(gof) < 0.45                    # theory: 0.35 (statistic doubled)


def test_rare_categories_are_pooled_so_the_rate_holds():
    rng = np.random.default_rng(4)
    p = np.r_[np.full(5, 0.19), np.full(10, 0.005)]       # ten categories seen once in a while
    rates = [chi_square_homogeneity(rng.multinomial(300, p), rng.multinomial(200, p)).p_value <= 0.05
             for _ in range(REPS)]
    assert np.mean(rates) < 0.05 + 3 * SE


def test_chi_square_sees_a_new_category():
    assert chi_square_homogeneity([100, 100, 0], [60, 60, 80]).p_value < 1e-10
    assert chi_square_goodness_of_fit([100, 100, 0], [60, 60, 80]).p_value == 0.0


def test_two_proportions():
    assert two_proportions(200, 10000, 200, 10000).p_value == pytest.approx(1.0)
    assert two_proportions(1, 100, 4, 100).test == "fisher"       # small counts: exact test
    assert two_proportions(0, 0, 5, 100).p_value == 1.0


def test_bh_matches_the_textbook_procedure():
    p = {"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.005, "e": 0.5}
    # sorted: 0.005, 0.01, 0.03, 0.04, 0.5 -> x m/rank: 0.025, 0.025, 0.05, 0.05, 0.5
    assert bh_adjust(p) == pytest.approx({"d": 0.025, "a": 0.025, "c": 0.05, "b": 0.05, "e": 0.5})
    assert bh_reject(p, 0.05) == {"a", "b", "c", "d"}
    assert bh_reject(p, 0.04) == {"a", "d"}
    assert bh_adjust({}) == {}


def test_fdr_across_many_null_features_bounds_any_alarm_at_q():
    # 16 features, none drifted: testing each at 5% alarms in 56% of evaluations; BH in about 5%
    rng = np.random.default_rng(6)
    spec = DriftSpec(min_samples=50)
    any_raw = any_bh = 0
    reps = 200
    for _ in range(reps):
        p = {}
        for j in range(16):
            if j % 4 == 3:
                ref = rng.choice(6, 400, p=CATEGORIES).astype(float)
                cur = rng.choice(6, 300, p=CATEGORIES).astype(float)
                p[f"f{j}"] = compare_column(f"f{j}", "categorical", ref, cur, spec).p_value
            else:
                p[f"f{j}"] = compare_column(f"f{j}", "numeric", rng.gamma(2.0, size=400),
                                            rng.gamma(2.0, size=300), spec).p_value
        any_raw += min(p.values()) <= 0.05
        any_bh += bool(bh_reject(p, 0.05))
    assert any_raw / reps > 0.5
    assert any_bh / reps < 0.05 + 3 * np.sqrt(0.05 * 0.95 / reps)


def test_compare_column_kinds_and_missing_values():
    rng = np.random.default_rng(7)
    spec = DriftSpec()
    # counts (few distinct values) are tested as categories, not with KS
    counts = compare_column("txn", "numeric", rng.poisson(2, 3000).astype(float),
                            rng.poisson(2.4, 2000).astype(float), spec)
    assert counts.test == "chi2" and counts.p_value < 1e-6
    # a feature that starts arriving as null: the values look normal, the missing share does not
    ref, cur = rng.normal(size=3000), rng.normal(size=2000)
    cur[:200] = np.nan
    nulls = compare_column("age", "numeric", ref, cur, spec)
    assert nulls.test == "ks" and nulls.p_value < 1e-10 and nulls.missing_current == 0.1
    # too few samples: not tested, so it takes no part in BH
    few = compare_column("x", "numeric", ref[:50], cur[:50], spec)
    assert few.status == "insufficient_data" and few.p_value is None
    # psi as the test
    as_psi = compare_column("x", "numeric", ref, rng.normal(size=2000),
                            DriftSpec(numeric_test="psi"))
    assert as_psi.test == "psi" and as_psi.p_value == as_psi.psi_p_value

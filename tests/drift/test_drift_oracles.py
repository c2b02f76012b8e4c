"""Reference values from outside: river's docstring examples, scipy's chi-square, NOTES.md's PSI."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest
from river import drift
from scipy import stats

from slo.drift.detectors import StreamDetector
from slo.drift.psi import bin_counts, psi, quantile_edges
from slo.drift.stattests import chi_square_goodness_of_fit, chi_square_homogeneity


def river_example_stream() -> list[int]:
    """The stream of river's ADWIN and PageHinkley docstrings (river 0.26.1)."""
    rng = random.Random(12345)
    return rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)


def detections(detector: StreamDetector, stream) -> list[tuple[int, int]]:
    return [(i, x) for i, x in enumerate(stream) if detector.update(x, event_time=float(i))]


def test_adwin_docstring_example_through_the_wrapper():
    # river prints "Change detected at index 1023, input value: 4"
    detector = StreamDetector("example", "adwin")
    assert detections(detector, river_example_stream()) == [(1023, 4)]
    assert detector.detections == 1 and detector.last_detection == 1023.0


def test_page_hinkley_docstring_example_through_the_wrapper():
    # river prints "Change detected at index 1006, input value: 5"
    detector = StreamDetector("example", "page_hinkley")
    assert detections(detector, river_example_stream()) == [(1006, 5)]


@pytest.mark.parametrize("kind", ["adwin", "page_hinkley"])
def test_wrapper_agrees_with_river_and_survives_pickling_midstream(kind):
    rng = random.Random(7)
    stream = [rng.random() < (0.02 if i < 30000 else 0.05) for i in range(60000)]
    plain = {"adwin": drift.ADWIN, "page_hinkley": drift.PageHinkley}[kind]()
    expected = []
    for i, x in enumerate(stream):
        plain.update(float(x))
        if plain.drift_detected:
            expected.append(i)
    detector = StreamDetector("flagged_rate", kind)
    got = [i for i, x in enumerate(stream[:20000]) if detector.update(float(x), float(i))]
    detector = pickle.loads(pickle.dumps(detector))          # a recovery snapshot mid-stream
    got += [i for i, x in enumerate(stream[20000:], 20000) if detector.update(float(x), float(i))]
    assert expected and expected[0] > 30000          # the rate really changes at 30000
    assert got == expected
    assert detector.detections == len(expected)


def test_chi_square_oracle_is_the_goodness_of_fit_formulation():
    reference, current = [16, 18, 16, 14, 12, 12], [16, 16, 16, 16, 16, 8]
    gof = chi_square_goodness_of_fit(reference, current)
    assert gof.p_value == pytest.approx(0.67309, abs=5e-6)
    # the same as scipy with current observed and the reference as expected counts
    direct = stats.chisquare(f_obs=current, f_exp=reference)
    assert gof.statistic == pytest.approx(direct.statistic)
    # the other formulations give other numbers: which one reproduces the oracle matters
    assert stats.chisquare(f_obs=reference, f_exp=current).pvalue == pytest.approx(0.62339, abs=1e-5)
    assert chi_square_homogeneity(reference, current).p_value == pytest.approx(0.89853, abs=1e-5)


def _null_psi(n: int, m: int, reps: int, seed: int, bins: int = 10) -> np.ndarray:
    """PSI with reference quantile bins between two samples of one continuous distribution."""
    rng = np.random.default_rng(seed)
    out = np.empty(reps)
    for r in range(reps):
        ref, cur = rng.standard_normal(n), rng.standard_normal(m)
        edges = quantile_edges(ref, bins)
        out[r] = psi(bin_counts(ref, edges), bin_counts(cur, edges))
    return out


def test_psi_reference_values_of_the_notes():
    # NOTES.md: P(PSI > 0.1) about 0.85 at n = m = 100 and 0.35 at 200; q99 at 1000 about 0.043
    # (our PSI adds half a count per bin, which lowers it a little at the smallest sizes)
    at_100 = np.mean(_null_psi(100, 100, 2000, 1) > 0.1)
    at_200 = np.mean(_null_psi(200, 200, 2000, 2) > 0.1)
    q99 = np.quantile(_null_psi(1000, 1000, 2000, 3), 0.99)
    assert 0.75 <= at_100 <= 0.90, at_100
    assert 0.29 <= at_200 <= 0.40, at_200      # so a fixed 0.1 threshold flags a third of windows
    assert q99 == pytest.approx(0.043, abs=0.004)

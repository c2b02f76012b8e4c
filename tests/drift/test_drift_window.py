"""Bounded state: bottom-k samples, their exact merge, bucket rings, the feature codec."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo.drift.features import FeatureCodec
from slo.drift.window import Bucket, BucketRing, PrioritySample, merge


def fill(sample: PrioritySample, values, rng: random.Random) -> None:
    for v in values:
        p = rng.random()
        if sample.admits(p):
            sample.add(p, [v])


def test_sample_size_stays_bounded_and_keeps_the_smallest_priorities():
    rng = random.Random(1)
    s = PrioritySample(k=100)
    seen = []
    for i in range(100_000):
        p = rng.random()
        seen.append(p)
        if s.admits(p):
            s.add(p, [float(i)])
        assert len(s) < 100 + 25 + 1
    s.trim()
    assert sorted(s.prio) == sorted(seen)[:100]
    assert s.tau == sorted(seen)[100]


def test_merged_sample_is_uniform_over_unequal_buckets():
    # one bucket with 9x the traffic of the other: its share of the merged sample must be 90%
    rng = random.Random(2)
    busy, quiet = Bucket(200, 4), Bucket(200, 4)
    fill(busy.sample, [1.0] * 90_000, rng)
    fill(quiet.sample, [0.0] * 10_000, rng)
    window = merge([busy, quiet], 0.0, 1.0, columns=1, score_bins=4, cap=10_000)
    share = window.sample[:, 0].mean()
    assert 150 <= window.sample_size <= 260
    assert share == pytest.approx(0.9, abs=0.05)


def test_merge_caps_the_sample_and_pads_new_columns():
    rng = random.Random(3)
    a, b = Bucket(500, 4), Bucket(500, 4)
    fill(a.sample, range(300), rng)
    for i in range(300):                    # b saw a second column appear
        p = rng.random()
        b.sample.add(p, [float(i), 1.0] if i >= 100 else [float(i)])
    window = merge([a, b], 0.0, 1.0, columns=2, score_bins=4, cap=400)
    assert window.sample.shape == (400, 2)
    assert np.isnan(window.sample[:, 1]).sum() >= 100


def test_columns_added_late_are_missing_for_earlier_rows():
    s = PrioritySample(k=10)
    s.add(0.1, [1.0])
    s.add(0.2, [2.0, 5.0])
    _, rows = s.rows()
    assert np.isnan(rows[0, 1]) and rows[1, 1] == 5.0


def test_ring_evicts_refuses_late_and_respects_capacity():
    ring = BucketRing(width=60, capacity=5, k=10, score_bins=4)
    for t in range(0, 600, 60):
        assert ring.bucket_at(float(t)) is not None
    assert len(ring.buckets) == 5 and min(ring.buckets) == 5
    assert ring.bucket_at(0.0) is None                        # older than everything kept
    ring.evict_before(8)
    assert sorted(ring.buckets) == [8, 9]
    assert ring.bucket_at(7 * 60.0) is None and ring.dropped == 2
    window = ring.window(8, 10, columns=1, cap=10)
    assert (window.start, window.end) == (480, 600)


def test_buckets_pickle_compactly():
    rng = random.Random(4)
    b = Bucket(1000, 40)
    for _ in range(5000):
        p = rng.random()
        b.n += 1
        b.hist[1, rng.randrange(41)] += 1
        if b.sample.admits(p):
            b.sample.add(p, [rng.random() for _ in range(5)])
    b.add_label(1, 3, True, 1.0)
    copy = pickle.loads(pickle.dumps(b))
    assert (copy.hist == b.hist).all() and (copy.labels == b.labels).all()
    assert list(copy.sample.prio) == list(b.sample.prio)
    # 1000-1250 rows of 5 float32 values and a float64 priority, plus the arrays
    assert len(pickle.dumps(b)) < 1250 * 28 + 2 * 41 * 8 + 2 * 41 * 6 * 8 + 2000


def test_codec_bounds_features_and_categories():
    codec = FeatureCodec(max_features=3, max_categories=4)
    for i in range(100):
        codec.encode(0.5, {f"f{j}": f"v{i}" for j in range(5)})
    assert len(codec.columns) == 1 + 3
    assert codec.ignored == 200
    assert codec.category_names("f0") == ["v0", "v1", "v2", "__other__"]


def test_codec_with_a_feature_list_and_forced_categories():
    codec = FeatureCodec(categorical=["zip"], only=["zip", "amount"])
    row = codec.encode(0.1, {"zip": 10115, "amount": 3.5, "other": 1})
    assert codec.columns == ["__score__", "zip", "amount"]
    assert codec.kinds == ["numeric", "categorical", "numeric"]
    assert row == [0.1, 0.0, 3.5] and codec.ignored == 1
    assert codec.encode(None, {"amount": True, "zip": None})[2] != codec.encode(None, {"amount": 1})[2]
    assert codec.mismatched == 1                 # a boolean in a numeric feature


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=0, max_size=400, unique=True),
       st.integers(1, 40))
def test_a_sample_holds_exactly_the_rows_below_its_threshold(priorities, k):
    """The invariant the exact merge rests on, whatever the order and k."""
    s = PrioritySample(k)
    for i, p in enumerate(priorities):
        if s.admits(p):
            s.add(p, [float(i)])
    assert sorted(s.prio) == sorted(p for p in priorities if p < s.tau)
    assert len(s) >= min(k, len(priorities))

"""Routing of records to tracker keys, per-version/per-segment health, compliance, state size."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from schemas.joined import JoinedRecord
from slo.routing import TrackerKey, keys_for
from slo.spec import parse_slo_yaml
from slo.tracker import SloTracker
from slo_sim import START, drive, flagged_stream, precision_spec

FILE = parse_slo_yaml("""
slos:
  - {name: fraud-precision, model_id: fraud, metric: precision, positive_label: 1,
     objective: 0.95, segments: [country, device]}
  - {name: fraud-recall, model_id: fraud, metric: recall, positive_label: 1, objective: 0.8}
  - {name: churn-precision, model_id: churn, metric: precision, positive_label: true,
     objective: 0.9}
""")


def _record(model="fraud", segment=None):
    return JoinedRecord("id", model, "v1", START, START + 5, 1, 1, 1.0, segment=segment or {})


def test_keys_for_whole_model_and_configured_segments():
    keys = keys_for(FILE, _record(segment={"country": "US", "device": "ios", "plan": "pro"}))
    assert keys == [TrackerKey("fraud-precision", "fraud", None),
                    TrackerKey("fraud-precision", "fraud", "country=US"),
                    TrackerKey("fraud-precision", "fraud", "device=ios"),
                    TrackerKey("fraud-recall", "fraud", None)]
    assert [k.dedup_key for k in keys] == ["fraud-precision/fraud", "fraud-precision/fraud/country=US",
                                           "fraud-precision/fraud/device=ios", "fraud-recall/fraud"]
    assert keys_for(FILE, _record(segment={"plan": "pro"})) == [
        TrackerKey("fraud-precision", "fraud", None), TrackerKey("fraud-recall", "fraud", None)]
    assert keys_for(FILE, _record(model="unknown")) == []
    assert TrackerKey.parse("fraud-precision/fraud/country=US") == keys[1]


def test_segment_trackers_see_only_their_slice():
    spec = FILE.get("fraud-precision")
    trackers: dict[TrackerKey, SloTracker] = {}
    rng = np.random.default_rng(1)
    for i in range(3000):
        country = "US" if i % 3 else "FR"
        good = rng.uniform() < (0.98 if country == "US" else 0.70)
        t = START + 1.2 * i
        record = JoinedRecord(f"r{i}", "fraud", "v1", t, t + 5, 1, int(good), 1.0,
                              segment={"country": country})
        for key in keys_for(FILE, record):
            if key.slo == spec.name:
                trackers.setdefault(key, SloTracker(spec, key=key)).observe(record)
    status = {k.segment: t.advance(START + 3600)[0] for k, t in trackers.items()}
    assert status["country=US"].labels + status["country=FR"].labels == status[None].labels
    assert status["country=FR"].estimate < 0.8 < 0.95 < status["country=US"].estimate
    assert status["country=FR"].to_record()["segment"] == "country=FR"


def test_last_healthy_version_after_a_bad_deploy():
    # v1 for 5 hours (healthy), v2 from then on (broken)
    def version(t):
        return "v1" if t < START + 5 * 3600 else "v2"

    def precision(minute):
        return np.where(minute < 300, 0.97, 0.80)

    records = flagged_stream(np.random.default_rng(5), START, 8 * 60, 600, precision, version=version)
    tracker = SloTracker(precision_spec())
    run = drive(tracker, records, START, START + 8 * 3600, keep_snapshots=False)
    assert run.pages(("critical",))[0].model_version == "v2"
    health = tracker.versions.summary()
    assert health["v1"]["met"] == 5 and health["v1"]["missed"] == 0
    assert health["v2"]["last_verdict"] == "missed" and health["v2"]["met"] == 0
    assert tracker.last_healthy_version() == "v1"
    assert tracker.last_healthy_version(exclude="v1") is None
    assert run.events[0].to_record()["model_version"] == "v2"


def test_compliance_share_of_hourly_slices():
    spec = precision_spec(extra="    compliance: {period: 1d, target: 0.9}\n")

    def precision(minute):   # hours 0-19 good, 20-23 bad
        return np.where(minute < 20 * 60, 0.97, 0.85)

    records = flagged_stream(np.random.default_rng(6), START, 24 * 60, 600, precision)
    tracker = SloTracker(spec)
    run = drive(tracker, records, START, START + 24 * 3600)
    compliance = run.snapshots[-1].compliance
    assert (compliance["met"], compliance["missed"], compliance["unknown"]) == (20, 4, 0)
    assert compliance["share"] == pytest.approx(20 / 24)
    assert compliance["budget_remaining"] == 0.0        # 10% of 24 slices = 2.4 allowed to miss
    assert run.snapshots[-1].to_record()["compliance"]["target"] == 0.9


def test_state_is_compact_and_picklable():
    records = flagged_stream(np.random.default_rng(1), START, 12 * 60, 1000, 0.96)
    tracker = SloTracker(precision_spec())
    drive(tracker, records, START, START + 12 * 3600, keep_snapshots=False)
    blob = tracker.snapshot_bytes()
    assert len(blob) < 64 * 1024
    assert tracker.memory_bytes() < 64 * 1024
    clone = pickle.loads(blob)
    assert clone.window_counts(3600) == tracker.window_counts(3600)
    assert clone.rules == tracker.rules and clone.last_snapshot.to_record() == tracker.last_snapshot.to_record()

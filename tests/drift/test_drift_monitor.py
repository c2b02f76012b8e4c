"""DriftMonitor end to end on synthetic streams: API, statuses, recovery, bounded state, time."""

from __future__ import annotations

import pickle
import random
import time
from pathlib import Path

import orjson
import pytest

from schemas.joined import JoinedRecord
from slo.drift import DriftMonitor, DriftSpec

T0 = 1.8e9
CATS = ["grocery", "electronics", "travel", "fashion"]


def feed(monitor: DriftMonitor, start: float, hours: float, per_hour: int, rng: random.Random, *,
         shift: float = 0.0, flag_rate: float = 0.05, cats=(0.4, 0.3, 0.2, 0.1),
         null_rate: float = 0.0, labels: bool = True, keyed: bool = False) -> None:
    """Predictions with an `amount` (normal + shift), a `merchant` and a score; flagged ones are
    labelled (positive with probability = score) a minute later."""
    n = int(hours * per_hour)
    for i in range(n):
        t = start + i * 3600.0 / per_hour
        flagged = rng.random() < flag_rate
        score = rng.uniform(0.5, 1.0) if flagged else rng.uniform(0.0, 0.5)
        amount = None if rng.random() < null_rate else rng.gauss(shift, 1.0)
        features = {"amount": amount, "merchant": rng.choices(CATS, cats)[0]}
        pid = f"p{t}"
        monitor.observe_prediction(t, score, flagged, features, key=pid if keyed else None)
        if labels and flagged:
            positive = rng.random() < score
            record = JoinedRecord(pid, "m", "v1", t, t + 60.0, 1, int(positive), 1.0, score)
            monitor.observe_joined(record, positive=positive, flagged=True)


def fixed(**extra) -> DriftSpec:
    return DriftSpec.model_validate({"reference": {"kind": "fixed", "first": "4h"},
                                     "window": "2h", **extra})


def hourly(monitor: DriftMonitor, start: float, hours: int, rng: random.Random, **kw):
    """Feed hour by hour and evaluate at the end of each, as the flow does; the snapshots."""
    out = []
    for h in range(hours):
        feed(monitor, start + h * 3600, 1, 1500, rng, **kw)
        out.append(monitor.evaluate(start + (h + 1) * 3600))
    return out


def test_statuses_from_pending_to_ok_to_drift():
    monitor, rng = DriftMonitor(fixed()), random.Random(1)
    first = monitor.evaluate(T0)
    assert first.status == "reference_pending" and "none seen yet" in first.reason
    pending = hourly(monitor, T0, 4, rng)
    assert all(s.status == "reference_pending" for s in pending[:3])
    assert "runs until 2027-01-15T12:00:00Z" in pending[0].reason
    ok = hourly(monitor, T0 + 4 * 3600, 2, rng)[-1]
    assert ok.status == "ok" and ok.drifted == () and not ok.score.drifted
    assert ok.reference["predictions"] == 6000 and ok.window["predictions"] == 3000
    drifted = hourly(monitor, T0 + 6 * 3600, 2, rng, shift=0.4)[-1]
    assert drifted.status == "drift" and drifted.drifted == ("amount",)
    amount = drifted.features["amount"]
    assert amount.q_value <= 0.05 and amount.psi > amount.psi_threshold


def test_categorical_and_missing_value_drift():
    monitor, rng = DriftMonitor(fixed()), random.Random(2)
    feed(monitor, T0, 4, 1500, rng)
    feed(monitor, T0 + 4 * 3600, 2, 1500, rng, cats=(0.25, 0.3, 0.2, 0.25), null_rate=0.1)
    snap = monitor.evaluate(T0 + 6 * 3600)
    assert set(snap.drifted) == {"amount", "merchant"}
    assert snap.features["merchant"].test == "chi2"
    assert snap.features["amount"].missing_current == pytest.approx(0.1, abs=0.03)


def test_a_trailing_reference_follows_the_data():
    spec = DriftSpec.model_validate({"reference": {"kind": "trailing", "window": "6h",
                                                   "bucket": "1h"}, "window": "1h"})
    monitor, rng = DriftMonitor(spec), random.Random(3)
    feed(monitor, T0, 6, 1000, rng)
    assert monitor.evaluate(T0 + 6 * 3600).status == "ok"
    feed(monitor, T0 + 6 * 3600, 1, 1000, rng, shift=0.5)
    shifted = monitor.evaluate(T0 + 7 * 3600)
    assert shifted.status in ("drift", "warning") and "amount" in shifted.drifted
    assert shifted.reference["end"] == T0 + 6 * 3600         # ends where the window starts
    feed(monitor, T0 + 7 * 3600, 7, 1000, rng, shift=0.5)  # the shift becomes the new normal
    assert monitor.evaluate(T0 + 14 * 3600).drifted == ()


def test_composite_warning_needs_drift_and_a_worse_proxy():
    monitor, rng = DriftMonitor(fixed()), random.Random(4)
    feed(monitor, T0, 4, 1500, rng)
    feed(monitor, T0 + 4 * 3600, 2, 1500, rng, flag_rate=0.08)        # proxy only
    proxy_only = monitor.evaluate(T0 + 6 * 3600)
    assert proxy_only.status != "warning" and proxy_only.flagged_rate.changed
    assert proxy_only.drifted == () and "no feature drifted" in proxy_only.warning.reason
    feed(monitor, T0 + 6 * 3600, 2, 1500, rng, flag_rate=0.08, shift=0.5)
    both = monitor.evaluate(T0 + 8 * 3600)
    assert both.status == "warning" and both.warning.proxies == ("flagged_rate",)
    assert both.warning.reason.startswith("amount drifted and the flagged rate rose from 0.0")
    # more flagged predictions also means more high scores: the score drifted too, but it is
    # the proxies' own evidence, so it only counts towards the rule with count_score
    assert both.score.drifted and both.warning.drifted == ("amount",)
    assert both.warning.severity == "warning"


def test_the_score_alone_does_not_make_the_drift_half_unless_counted():
    for count_score, expected in ((False, "drift"), (True, "warning")):
        monitor = DriftMonitor(fixed(warning={"count_score": count_score}))
        rng = random.Random(12)
        feed(monitor, T0, 4, 1500, rng)
        feed(monitor, T0 + 4 * 3600, 2, 1500, rng, flag_rate=0.1)
        snap = monitor.evaluate(T0 + 6 * 3600)
        assert snap.drifted == () and snap.score.drifted and snap.flagged_rate.changed
        assert snap.status == expected, snap.reason


def test_detectors_can_be_the_proxy():
    spec = fixed(warning={"proxies": ["detectors"]},
                 detectors=[{"stream": "flagged_rate", "kind": "adwin"}])
    monitor, rng = DriftMonitor(spec), random.Random(5)
    feed(monitor, T0, 6, 1500, rng)
    feed(monitor, T0 + 6 * 3600, 2, 1500, rng, flag_rate=0.15, shift=0.5)
    snap = monitor.evaluate(T0 + 8 * 3600)
    assert snap.status == "warning" and "adwin saw the flagged_rate stream change" in snap.reason
    state = snap.detectors[0]
    assert state["detections"] >= 1 and T0 + 6 * 3600 <= state["last_detection"] < T0 + 8 * 3600


def test_to_record_is_plain_json_with_the_documented_fields():
    monitor, rng = DriftMonitor(fixed()), random.Random(6)
    feed(monitor, T0, 6, 1500, rng)
    record = orjson.loads(orjson.dumps(monitor.evaluate(T0 + 6 * 3600).to_record()))
    assert record["event_time"] == "2027-01-15T14:00:00Z"
    assert record["status"] == "ok" and record["reference"]["kind"] == "fixed"
    amount = record["features"]["amount"]
    for key in ("kind", "test", "statistic", "p_value", "q_value", "psi", "psi_threshold",
                "psi_p_value", "drifted", "missing_current"):
        assert key in amount
    assert record["score"]["test"] == "ks" and record["score_drifted"] is False
    metric = record["estimated_metric"]
    assert metric["metric"] == "precision" and metric["lower"] < metric["estimate"] < metric["upper"]
    assert metric["source"] == "realized" and metric["realized_labels"] > 30
    assert {d["stream"] for d in record["detectors"]} == {"flagged_rate", "error", "score"}
    assert record["warning"]["active"] is False
    assert set(record["dropped"]) == {"late", "ahead", "features_ignored", "values_mismatched"}


@pytest.mark.parametrize("keyed", [False, True])
def test_recovery_from_a_pickled_snapshot_gives_identical_results(keyed):
    def stream(monitor, rng, part):
        if part == 0:
            feed(monitor, T0, 5, 800, rng, keyed=keyed)
        else:
            feed(monitor, T0 + 5 * 3600, 3, 800, rng, shift=0.3, keyed=keyed)
        return monitor.evaluate(T0 + (5 if part == 0 else 8) * 3600).to_record()

    straight, rng_a = DriftMonitor(fixed()), random.Random(7)
    first = [stream(straight, rng_a, 0), stream(straight, rng_a, 1)]
    recovered, rng_b = DriftMonitor(fixed()), random.Random(7)
    second = [stream(recovered, rng_b, 0)]
    recovered = pickle.loads(pickle.dumps(recovered))          # crash and restore
    second.append(stream(recovered, rng_b, 1))
    assert first == second
    assert first[1]["status"] == "drift"


def test_state_stays_bounded_on_a_long_stream():
    spec = DriftSpec.model_validate({"reference": {"kind": "trailing", "window": "12h",
                                                   "bucket": "2h"}, "window": "2h",
                                     "sample_size": 500, "reference_sample_size": 1000})
    monitor, rng = DriftMonitor(spec), random.Random(8)
    sizes = []
    for day in range(3):
        for hour in range(0, 24, 2):
            start = T0 + day * 86400 + hour * 3600
            feed(monitor, start, 2, 400, rng)
            snap = monitor.evaluate(start + 2 * 3600)
        sizes.append(monitor.state_bytes())
    assert snap.dropped["ahead"] == 0 and snap.window["predictions"] == 800
    assert len(monitor.current.buckets) <= 2 * 24 // 2 and len(monitor.reference.ring.buckets) <= 10
    assert sizes[-1] < 1.2 * sizes[1], sizes                  # a day in, it no longer grows
    assert sizes[-1] < 150_000
    monitor.observe_prediction(T0 + 3 * 86400, float("nan"), False, {"amount": 1.0})


def test_late_and_far_future_events_are_dropped_and_counted():
    monitor, rng = DriftMonitor(fixed()), random.Random(9)
    feed(monitor, T0, 6, 100, rng)
    monitor.evaluate(T0 + 6 * 3600)
    monitor.observe_prediction(T0 + 1 * 3600, 0.2, False, {"amount": 1.0})   # before the window
    monitor.observe_prediction(T0 + 9 * 3600, 0.2, False, {"amount": 1.0})   # 3h ahead
    dropped = monitor.evaluate(T0 + 6 * 3600).dropped
    assert dropped["late"] == 1 and dropped["ahead"] == 1


def test_recall_monitor_and_missing_scores():
    monitor, rng = DriftMonitor(fixed(), metric="recall"), random.Random(10)
    feed(monitor, T0, 6, 1000, rng)
    for i in range(50):
        monitor.observe_prediction(T0 + 5 * 3600 + i, None, False, {})
    snap = monitor.evaluate(T0 + 6 * 3600)
    assert snap.metric.metric == "recall"
    assert snap.window["predictions"] == 2050
    with pytest.raises(ValueError):
        DriftMonitor(fixed(), metric="f1")


def test_never_reads_the_wall_clock(monkeypatch):
    def no_clock(*_):
        raise AssertionError("the drift core read the wall clock")

    for name in ("time", "time_ns", "monotonic", "localtime", "gmtime"):
        monkeypatch.setattr(time, name, no_clock)
    monitor, rng = DriftMonitor(fixed()), random.Random(11)
    feed(monitor, T0, 6, 500, rng)
    monitor.evaluate(T0 + 6 * 3600).to_record()
    monkeypatch.undo()
    source = "\n".join(p.read_text() for p in Path("slo/drift").glob("*.py"))
    for call in ("time.time(", "datetime.now(", "utcnow(", "date.today(", "perf_counter("):
        assert call not in source

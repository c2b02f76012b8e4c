"""The change test (slo/change.py, river's ADWIN) as the tracker runs it: every label once, in a
deterministic order; its latch, snapshots and SLO-file key. (What it shares with the trend
test, warning on a decline, the approach gate, resolving and re-arming, is tested with it in
test_slo_sequential.py.)"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from river.drift import ADWIN
from slo_sim import START, drive, drive_shuffled, healthy_then, precision_spec

from schemas.joined import JoinedRecord
from slo.change import ChangeTest
from slo.rules import resolve_rules
from slo.spec import parse_slo_yaml
from slo.spec_errors import SloSpecError
from slo.tracker import SloTracker

CHANGE_ONLY = ("    alerting:\n      breach: null\n      burn_rates: []\n      sustained: null\n"
               "      starvation: null\n      trend: null\n      change: {}\n")
HOUR = 3600.0


def test_change_fires_on_the_label_a_plain_adwin_detects():
    """The tracker's ADWIN is river's, fed each label's error once in review order: its first
    increase is on the same label as a hand-fed ADWIN with the same settings, and the warning
    comes at the first step after that label's review time."""
    records = healthy_then(0.85, 2, seed=3)
    tracker = SloTracker(precision_spec(extra=CHANGE_ONLY))
    run = drive(tracker, records, START, START + 50 * HOUR, keep_snapshots=False)
    reference = ADWIN(delta=0.002, clock=1)
    detected_at = None
    for r in sorted(records, key=lambda r: (r.labeled_at, r.prediction_id)):
        before = reference.estimation
        reference.update(float(r.label != 1))
        if reference.drift_detected and reference.estimation > before:
            detected_at = r.labeled_at
            break
    assert detected_at is not None and detected_at > START + 48 * HOUR
    first = run.first("trigger")
    assert first is not None and first.rule == "change"
    assert first.event_time == (detected_at // 60 + 1) * 60


def test_latch_ends_on_a_decrease_or_after_hold():
    t = ChangeTest(delta=0.002, clock=1, hold=24 * HOUR)
    i = 0
    for i in range(3000):                          # 2% errors, a label a minute
        t.add(60.0 * i, i % 50 == 0)
    while not t.alarm:                             # 20% errors until ADWIN cuts
        i += 1
        t.add(60.0 * i, i % 5 == 0)
    assert t.level > t.usual and 0.01 < t.usual < 0.03
    since = t.since
    for _ in range(100):                           # still high, within `hold`: latched
        i += 1
        t.add(60.0 * i, i % 5 == 0)
    assert t.alarm and t.since == since
    while t.alarm:                                 # back to 0 errors: a cut towards lower rates
        i += 1
        t.add(60.0 * i, False)
    assert 60.0 * i - since < 12 * HOUR            # ended by the decrease, long before `hold`
    u = ChangeTest(delta=0.002, clock=1, hold=HOUR)
    u.latched, u.since = True, 0.0
    u.add(HOUR - 1.0, False)
    assert u.alarm
    u.add(HOUR, False)
    assert not u.alarm
    with pytest.raises(ValueError):
        ChangeTest(delta=0.0, clock=1, hold=HOUR)


def test_each_label_reaches_adwin_once_unweighted_whatever_the_arrival_order():
    """Review-sampling weights do not multiply labels (ADWIN's bound is for values in [0, 1]);
    labels read in another order within a step give the same ADWIN state."""
    rng = np.random.default_rng(5)
    records = [JoinedRecord(f"id{i:05d}", "m", "v1", START + 60 * (i // 10), START + 60 * (i // 10) + 30, 1,
                            int(rng.uniform() > 0.1), 0.1 if i % 3 else 1.0) for i in range(900)]
    spec = precision_spec(extra=CHANGE_ONLY)
    adwins = [drive_shuffled(spec, records, seed).change.adwin for seed in (1, 2)]
    states = [(a.width, a.total, a.variance) for a in adwins]
    assert states[0] == states[1]
    assert states[0][0] == 900 and states[0][1] == sum(r.label != 1 for r in records)


def test_snapshot_restore_gives_the_same_alerts():
    """Pickled mid-stream (as a recovery snapshot) and restored, the tracker raises the same
    warning at the same step as one that ran through."""
    records = healthy_then(0.9, 6, seed=21)
    spec = precision_spec(extra=CHANGE_ONLY)
    through = drive(SloTracker(spec), records, START, START + 54 * HOUR, keep_snapshots=False)
    half = SloTracker(spec)
    cut = START + 48.5 * HOUR
    first = drive(half, [r for r in records if r.labeled_at < cut], START, cut, keep_snapshots=False)
    restored = pickle.loads(half.snapshot_bytes())
    assert restored.change.adwin.width == half.change.adwin.width
    second = drive(restored, [r for r in records if r.labeled_at >= cut], cut, START + 54 * HOUR,
                   keep_snapshots=False)
    events = [(e.action, e.rule, e.event_time) for e in first.events + second.events]
    assert events == [(e.action, e.rule, e.event_time) for e in through.events]
    assert ("trigger", "change") in [(a, r) for a, r, _ in events]


def test_snapshot_without_the_change_test_restores():
    """A tracker pickled before the change test existed, or while trend and change were off
    (the former defaults), gets fresh ones when the SLO now has them; turned off, they go."""
    tracker = SloTracker(precision_spec(extra=CHANGE_ONLY))
    state = tracker.__getstate__()
    del state["change"]
    restored = SloTracker.__new__(SloTracker)
    restored.__setstate__(state)
    assert isinstance(restored.change, ChangeTest) and restored.change.adwin.width == 0
    old_defaults = SloTracker(precision_spec(extra="    alerting: {trend: null, change: null}\n"))
    assert old_defaults.change is None and old_defaults.baseline is None
    state = old_defaults.__getstate__()
    state["spec"] = precision_spec()                      # restarted with today's defaults
    restored = SloTracker.__new__(SloTracker)
    restored.__setstate__(state)
    assert isinstance(restored.change, ChangeTest) and restored.baseline is not None
    restored.observe(JoinedRecord("a", "m", "v1", START, START + 5, 1, 0, 1.0))
    restored.advance(START + 60)
    assert restored.change.adwin.width == 1 and restored.baseline.n_eff == pytest.approx(1.0)
    state = restored.__getstate__()
    state["spec"] = old_defaults.spec                     # and back: both off again
    again = SloTracker.__new__(SloTracker)
    again.__setstate__(state)
    assert again.change is None and again.baseline is None and again.trend is None


def test_spec_pickled_before_the_change_key_existed_restores_with_it():
    """Recovery snapshots pickle each tracker's spec: one written before `alerting.change`
    existed unpickles with the field's default instead of failing on the missing attribute."""
    spec = precision_spec()
    state = spec.alerting.__getstate__()
    values = dict(state["__dict__"])
    del values["change"]
    old = type(spec.alerting).__new__(type(spec.alerting))
    old.__setstate__({**state, "__dict__": values})
    assert old.change == spec.alerting.change
    restored = pickle.loads(pickle.dumps(spec.model_copy(update={"alerting": old})))
    assert resolve_rules(restored).change is not None


def test_change_spec():
    base = "slos: [{name: p, model_id: m, metric: precision, positive_label: 1, objective: 0.95"
    assert resolve_rules(parse_slo_yaml(base + "}]").slos[0]).change is not None  # on by default
    rules = resolve_rules(parse_slo_yaml(base + ", window: 2h}]").slos[0])
    assert rules.change is not None
    assert (rules.change.severity, rules.change.delta, rules.change.clock, rules.change.hold,
            rules.change.approach) == ("warning", 0.002, 1, 12 * 3600, 0.9)
    rules = resolve_rules(parse_slo_yaml(base + ", alerting: {change: {hold: 3h, delta: 0.01}}}]").slos[0])
    assert rules.change.hold == 3 * 3600 and rules.change.delta == 0.01
    assert resolve_rules(parse_slo_yaml(base + ", alerting: {change: null}}]").slos[0]).change is None
    text = ("slos:\n  - name: p\n    model_id: m\n    metric: precision\n    positive_label: 1\n"
            "    objective: 0.95\n    alerting:\n      change:\n        delta: 0\n")
    with pytest.raises(SloSpecError, match=r"^s.yaml:9: slos\[0\].alerting.change.delta: "):
        parse_slo_yaml(text, "s.yaml")
    with pytest.raises(SloSpecError, match=r"alerting.change.clock"):
        parse_slo_yaml(text.replace("delta: 0", "clock: 0"), "s.yaml")
    with pytest.raises(SloSpecError, match=r"did you mean 'hold'"):
        parse_slo_yaml(text.replace("delta: 0", "holds: 1h"), "s.yaml")


def test_state_grows_with_the_log_of_the_window():
    """ADWIN keeps its window in exponential buckets: growing from 1,000 to 200,000 stable labels
    adds about a kilobyte to the pickled state (part of the per-key memory, bench/memory.py)."""
    rng = np.random.default_rng(17)
    t = ChangeTest(delta=0.002, clock=1, hold=HOUR)
    sizes = {}
    for i, error in enumerate((rng.uniform(size=200_000) < 0.03).tolist(), start=1):
        t.add(float(i), error)
        if i in (1_000, 200_000):
            sizes[i] = len(pickle.dumps(t))
    assert t.adwin.width == 200_000                # no change detected: the whole stream is kept
    assert sizes[200_000] - sizes[1_000] < 1536 and sizes[200_000] < 4096

"""The sequential tests (slo/sequential.py) as the tracker runs them: every label once, as it
arrives, in a deterministic order; the trend test's usual level, gate, resolution and re-arming."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from slo_sim import START, drive, drive_shuffled, flagged_stream, healthy_then, precision_spec

from schemas.joined import JoinedRecord
from slo.estimators import share_among_reviewed
from slo.sequential import BernoulliCusum, ErrorBaseline, TrendTest
from slo.rules import resolve_rules
from slo.spec import parse_slo_yaml
from slo.spec_errors import SloSpecError
from slo.tracker import SloTracker

SEQUENTIAL_ONLY = ("    alerting:\n      breach: null\n      burn_rates: []\n      sustained: null\n"
                   "      trend: null\n      change: null\n      sequential: {}\n")
TREND_ONLY = ("    alerting:\n      breach: null\n      burn_rates: []\n      sustained: null\n"
              "      starvation: null\n      change: null\n      trend: {}\n")


def _label(i: int, predicted_at: float, labeled_at: float, correct: bool, p: float = 1.0) -> JoinedRecord:
    return JoinedRecord(f"id{i:05d}", "m", "v1", predicted_at, labeled_at, 1, int(correct), p)


def test_late_labels_count_once_in_review_order():
    """Labels of an old bucket that arrive after the clock passed it still reach the CUSUM,
    each exactly once, in review-time order: the statistic equals a CUSUM fed by hand."""
    tracker = SloTracker(precision_spec(extra=SEQUENTIAL_ONLY))
    rng = np.random.default_rng(3)
    # all predictions in the first 10 minutes; labels trickle in over the next 40 minutes
    records = [_label(i, START + rng.uniform(0, 600), START + 600 + rng.uniform(0, 2400),
                      bool(rng.uniform() > 0.2)) for i in range(400)]
    drive(tracker, records, START, START + 3 * 3600)
    reference = BernoulliCusum.for_budget(0.05, 3.0, 16.0)
    for r in sorted(records, key=lambda r: (r.labeled_at, r.prediction_id)):
        reference.add(r.label != 1)
    assert tracker.cusum is not None
    assert tracker.cusum.statistic == pytest.approx(reference.statistic, abs=1e-9)
    assert reference.statistic > 0 and tracker.ring.dropped_late == 0


def test_same_result_whatever_the_arrival_order_within_a_step():
    spec = precision_spec(extra=SEQUENTIAL_ONLY)
    rng = np.random.default_rng(5)
    records = [_label(i, START + 60 * (i // 10), START + 60 * (i // 10) + 30, bool(rng.uniform() > 0.25))
               for i in range(600)]
    stats = [drive_shuffled(spec, records, seed).cusum.statistic for seed in (1, 2)]
    assert stats[0] == stats[1] and stats[0] > 0


def test_each_label_counts_once_at_the_share_its_weight_implies():
    """Nine hits of weight 1 and a miss of weight 10 (reviewed a tenth as often): the CUSUM
    takes ten labels, each judged at the miss share the budget shows among reviewed labels
    when a miss weighs ten hits, not ten weighted labels."""
    tracker = SloTracker(precision_spec(extra=SEQUENTIAL_ONLY))
    for i in range(9):
        tracker.observe(_label(i, START, START + 10 + i, True, p=1.0))
    tracker.observe(_label(9, START, START + 30, False, p=0.1))
    tracker.advance(START + 60)
    reference = BernoulliCusum.for_budget(0.05, 3.0, 16.0)
    reference.set_ratio(10.0)
    for i in range(9):
        reference.add(False)      # review order: the hits first, then the miss
    reference.add(True)
    assert tracker.cusum.ratio == pytest.approx(10.0)
    assert tracker.cusum.statistic == pytest.approx(reference.statistic) and reference.statistic > 0
    # at b = 10 the budget of 5% errors is a miss share of 0.0052 among reviewed labels
    assert share_among_reviewed(0.05, 10.0) == pytest.approx(0.05 / (0.05 + 10 * 0.95))
    assert reference._log_error == pytest.approx(math.log(share_among_reviewed(0.15, 10.0)
                                                          / share_among_reviewed(0.05, 10.0)))


# The two moved-up warnings share their behaviour: (rule, alerting block with only that rule,
# its alarm, words of its reason)
MOVED_UP = {
    "trend": (TREND_ONLY, lambda tracker: tracker.trend is not None and tracker.trend.alarm, "usual rate"),
    "change": (TREND_ONLY.replace("change: null", "change: {}").replace("trend: {}", "trend: null"),
               lambda tracker: tracker.change.alarm, "(ADWIN"),
}


@pytest.mark.parametrize("rule", MOVED_UP)
def test_moved_up_rule_warns_on_a_decline_the_windows_do_not_confirm(rule):
    """0.97 -> 0.94: just below the 0.95 objective. The trend test (against the key's usual 3%)
    and the change test (ADWIN sees the rate move) warn within a few hours; with the rule
    disabled, the same windowed rules never page."""
    only, _, words = MOVED_UP[rule]
    records = healthy_then(0.94, 8)
    end = START + 56 * 3600
    run = drive(SloTracker(precision_spec(extra=only)), records, START, end, keep_snapshots=False)
    first = run.first("trigger")
    assert first is not None and first.rule == rule and first.severity == "warning"
    assert START + 48 * 3600 < first.event_time < START + 54 * 3600
    assert words in first.reason
    off = drive(SloTracker(precision_spec(extra=only.replace(f"{rule}: {{}}", f"{rule}: null"))), records, START,
                end, keep_snapshots=False)
    assert off.first("trigger") is None


@pytest.mark.parametrize("rule", MOVED_UP)
def test_moved_up_rule_stays_quiet_on_a_healthy_key_and_far_from_the_objective(rule):
    """Stable at 0.97 for 3 days: no alarm. 0.999 -> 0.975 (errors x25, still half the budget):
    the test has the evidence, the approach gate keeps it from paging."""
    only, alarm, _ = MOVED_UP[rule]
    rng = np.random.default_rng(11)
    stable = flagged_stream(rng, START, 72 * 60, 600.0, 0.97)
    assert drive(SloTracker(precision_spec(extra=only)), stable, START, START + 72 * 3600,
                 keep_snapshots=False).first("trigger") is None
    better = flagged_stream(rng, START, 60 * 60, 600.0,
                            lambda m: np.where(m < 48 * 60, 0.999, 0.975))
    tracker = SloTracker(precision_spec(extra=only))
    alarmed = False
    for chunk in range(60 * 6):
        t0 = START + chunk * 600.0
        run = drive(tracker, [r for r in better if t0 <= r.labeled_at < t0 + 600], t0, t0 + 600,
                    keep_snapshots=False)
        alarmed = alarmed or alarm(tracker)
        assert run.first("trigger") is None                      # far within the SLO...
    assert alarmed                                               # ...though the test saw it


def test_trend_needs_a_usual_level_first():
    """Before the key holds 10 x min_labels effective labels the trend test does not run."""
    tracker = SloTracker(precision_spec(extra=TREND_ONLY))
    rng = np.random.default_rng(2)
    drive(tracker, flagged_stream(rng, START, 20, 600.0, 0.99), START, START + 1200)   # ~200 labels
    assert tracker.trend is None
    drive(tracker, flagged_stream(rng, START + 1200, 20, 600.0, 0.99), START + 1200, START + 2400)
    assert tracker.trend is not None and 0.01 < tracker.trend.p0 < 0.05
    # a key whose usual error rate is at the budget has nothing to move up from
    at_budget = SloTracker(precision_spec(extra=TREND_ONLY))
    drive(at_budget, flagged_stream(rng, START, 120, 600.0, 0.95), START, START + 7200)
    assert at_budget.baseline.n_eff > 1000 and at_budget.trend is None


@pytest.mark.parametrize("rule", MOVED_UP)
def test_moved_up_rule_resolves_and_rearms(rule):
    only, alarm, _ = MOVED_UP[rule]
    rng = np.random.default_rng(13)
    before, bad = 48 * 60, 6 * 60
    records = flagged_stream(rng, START, before + bad + 12 * 60, 600.0,
                             lambda m: np.where((m >= before) & (m < before + bad), 0.85, 0.97))
    tracker = SloTracker(precision_spec(extra=only))
    run = drive(tracker, records, START, START + (before + bad + 12 * 60) * 60.0, keep_snapshots=False)
    trigger, resolve = run.first("trigger"), run.first("resolve")
    assert trigger is not None and trigger.rule == rule
    assert resolve is not None and resolve.event_time > START + (before + bad) * 60
    assert [e.action for e in run.events].count("trigger") == 1
    assert not alarm(tracker)                  # re-armed at the resolve
    if rule == "trend":
        assert tracker.trend.statistic < 1.0   # good labels since


def test_trend_false_alarm_rate_is_the_documented_one():
    """The per-chart threshold is threshold + ln(charts): the union bound behind ARL >= e^h."""
    t = TrendTest(0.05, (1.0, 1.5, 3.0), 13.0)
    t.set_usual(0.03)
    assert [c.threshold for c in t.charts] == pytest.approx([13.0 + math.log(3)] * 3)
    assert [c.p1 for c in t.charts] == pytest.approx([0.05, 0.075, 0.15])
    with pytest.raises(ValueError):
        TrendTest(0.05, (0.5,), 13.0)


def test_baseline_forgets_with_its_memory():
    b = ErrorBaseline(memory=3600.0)
    for i in range(1000):
        b.add(float(i), True)
    b.add(1000.0 + 10 * 3600.0, False)   # ten time constants later: the old errors weigh e^-10
    assert b.rate < 0.05


def test_old_snapshots_restore():
    """A tracker pickled before the trend test existed (it had `_cusum_next`, no `_fresh`)."""
    tracker = SloTracker(precision_spec(extra=TREND_ONLY))
    state = tracker.__getstate__()
    for name in ("_fresh", "trend", "baseline"):
        del state[name]
    state["_cusum_next"] = 5
    restored = SloTracker.__new__(SloTracker)
    restored.__setstate__(state)
    assert restored._fresh == [] and restored.baseline is not None
    restored.observe(_label(0, START, START + 5, True))
    restored.advance(START + 60)
    assert pickle.loads(pickle.dumps(restored)).baseline.n_eff == pytest.approx(1.0)


def test_trend_spec():
    base = "slos: [{name: p, model_id: m, metric: precision, positive_label: 1, objective: 0.95"
    assert resolve_rules(parse_slo_yaml(base + "}]").slos[0]).trend is not None  # on by default
    rules = resolve_rules(parse_slo_yaml(base + ", alerting: {trend: {}}}]").slos[0])
    assert rules.trend is not None and rules.trend.threshold == 13.0 and rules.trend.memory == 7 * 86400
    assert rules.trend.reference_labels == 300
    assert resolve_rules(parse_slo_yaml(base + ", alerting: {trend: null}}]").slos[0]).trend is None
    with pytest.raises(SloSpecError):
        parse_slo_yaml(base + ", alerting: {trend: {shifts: [0.5]}}}]")


def test_trend_alarm_latches_until_half_the_evidence_is_gone():
    t = TrendTest(0.05, (1.0, 3.0), 10.0)
    t.set_usual(0.02)
    while not t.alarm:
        t.add(True)
    assert t.statistic == pytest.approx(10.0)          # capped at the threshold
    t.add(False)
    assert t.alarm and t.statistic < 10.0               # one good label does not hide it
    while t.statistic > 5.0:
        t.add(False)
    assert not t.alarm


def test_tests_pickled_before_review_space_charts_restore():
    cusum = BernoulliCusum.for_budget(0.05, 3.0, 16.0)
    cusum.add(True)
    state = {name: getattr(cusum, name) for name in BernoulliCusum.__slots__ if name != "ratio"}
    old = BernoulliCusum.__new__(BernoulliCusum)
    old.__setstate__((None, state))
    assert old.ratio == 1.0 and old.statistic == cusum.statistic
    # a baseline of the former three sums (hits and misses not kept apart) starts again
    baseline = ErrorBaseline.__new__(ErrorBaseline)
    baseline.__setstate__((None, {"memory": 3600.0, "weight": 50.0, "miss_weight": 2.0,
                                  "weight_sq": 50.0, "last_time": 1.0}))
    assert baseline.n_eff == 0.0 and baseline.last_time is None and baseline.memory == 3600.0
    baseline.add(10.0, True)
    assert baseline.n_eff == pytest.approx(1.0)


def test_a_baseline_whose_squares_decayed_to_nothing_does_not_divide_by_zero():
    baseline = ErrorBaseline(memory=3600.0)
    for i in range(50):
        baseline.add(float(i), False)
    baseline.add(400 * 3600.0, True)         # 400 memories later: the hits' squares underflow
    assert baseline.hit_weight_sq == 0.0 < baseline.hit_weight
    assert baseline.n_eff == pytest.approx(1.0) and 0.0 < baseline.upper(0.99) <= 1.0

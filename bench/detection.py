"""Detection quality: slo-monitor's alerting against three naive rules on the same joined stream.

    .venv/bin/python bench/detection.py [--rate 6000] [--stable-days 30] [--scenario NAME ...]

No Kafka: the simulator's events (one model, ~600 flagged labels an hour, label delays of
minutes) are joined here the way the flow joins them (a label meets its prediction by
prediction_id) and fed, in event-time order, to `flows.engine_state.SloEngine`: the flow's own
engine around `slo.tracker.SloTracker`, with the default rules of the CONTRACT's fraud SLO
(objective 0.95, 1h window, min_labels 30, segments [country]: 9 keys), its per-minute clock and
2-minute allowed lateness, and the prediction counts that drive the label-starvation rule.

The naive rules run on the same keys and the same data:

- point: the 1-hour point estimate (the one in slo-status) is below the objective (with at
  least min_labels labels, as the SLO requires);
- 7d MA - 1 sd: the 1-hour estimate is below the moving average minus one standard deviation of
  that estimate over the last 7 days (sampled each minute; needs 1 hour of history);
- ADWIN: river's ADWIN (delta 0.002) on the per-label error (a flagged prediction whose label is
  negative), one detector per key, fed each label at its review time; a detected change with a
  higher error rate fires.

A *page* is a new episode: for slo-monitor an alert `trigger` (any severity); for a naive rule
the rule becoming true after it had been false for 30 minutes (slo-monitor's default resolve
delay). A page is false if it comes before the change or on a key the change does not touch;
scenarios where the model stays healthy (stable, low_traffic, label_delay_spike) have only
false pages, except that label-starvation warnings in label_delay_spike are counted apart (the
labels did stop). Detection delay: first page on an affected key after the change, from the
moment the true metric falls below the objective (for gradual_decline the ramp crosses 0.95
5.3 hours after it starts). Times are event time; in the flow each step is evaluated once the
inputs are 2 minutes (allowed lateness) past it. Target (issue 6): zero false pages on 30
stable days, detection delay no worse than the best naive rule; the verdict compares with the
naive rules that page no more falsely than slo-monitor (on the stable days, and in the scenario):
a rule that pages 1,000 times a month also "detects" every change early by chance.

`--seed S` gives scenario i (in the table's order) the seed S + i; the default 11 is the run
the docs quote, other values are other realisations of the same scenarios (the docs also quote
21 and 31). `--previous` runs the defaults as they were before the trend and change tests were
switched on, for comparison; `--alerting '{...}'` any other rules.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DAY, FRAUD_SLO, HOUR, START, LoadWatch, md_table, print_machine, verdict  # noqa: E402

from flows.engine_state import SloEngine  # noqa: E402
from schemas.joined import JoinedRecord  # noqa: E402
from simulator.model import Behaviour  # noqa: E402
from simulator.scenarios import SCENARIOS  # noqa: E402
from simulator.streams import TrafficGenerator  # noqa: E402
from slo import defaults  # noqa: E402
from slo.durations import format_duration  # noqa: E402
from slo.snapshots import AlertEvent, StatusSnapshot  # noqa: E402
from slo.spec import parse_slo_yaml  # noqa: E402

SLO = FRAUD_SLO
OBJECTIVE, MIN_LABELS = 0.95, 30
QUIET = 1800.0           # a naive rule pages again only after 30 minutes false
LATENESS, STEP = 120.0, 60.0
WHOLE = None             # the whole-model key's segment
BASE = Behaviour(flagged_rate=0.1, review_probability_flagged=1.0, review_probability_unflagged=0.02)
CHANGE_AT = 7 * DAY


@dataclass
class Case:
    name: str
    days: float
    params: dict = field(default_factory=dict)
    affected: tuple = ()         # keys (segment or WHOLE) whose true metric falls below objective
    crossing: float | None = None   # offset when the true metric falls below the objective


def cases(stable_days: float) -> list[Case]:
    gradual_cross = CHANGE_AT + 24 * HOUR * (0.97 - OBJECTIVE) / (0.97 - 0.88)
    # segment_drop: DE (12% of traffic) at 0.80 takes the whole model to ~0.9496, just below 0.95
    return [
        Case("stable", stable_days),
        Case("precision_drop", 8, {"change_at": CHANGE_AT, "precision_after": 0.85},
             ("all",), CHANGE_AT),
        Case("gradual_decline", 8, {"change_at": CHANGE_AT, "precision_after": 0.88, "ramp": 24 * HOUR},
             ("all",), gradual_cross),
        Case("low_traffic", 8, {"change_at": CHANGE_AT, "traffic_factor": 0.05}),
        Case("segment_drop", 8, {"change_at": CHANGE_AT, "segment": "country=DE", "precision_after": 0.80},
             (WHOLE, "country=DE"), CHANGE_AT),
        Case("label_delay_spike", 8, {"change_at": CHANGE_AT}),
    ]


class Episodes:
    """Turns a condition checked over time into pages (new episodes after QUIET false)."""

    def __init__(self) -> None:
        self.pages: list[tuple[float, str]] = []   # (event time, detail)
        self._last_true: float | None = None

    def update(self, t: float, condition: bool, detail: str = "") -> None:
        if condition:
            if self._last_true is None or t - self._last_true >= QUIET:
                self.pages.append((t, detail))
            self._last_true = t


class MovingAverageRule:
    """Estimate below mean - 1 sd of the per-minute estimates of the last 7 days."""

    def __init__(self, span: float = 7 * DAY) -> None:
        self.span = span
        self.samples: deque[tuple[float, float]] = deque()
        self.total = self.total_sq = 0.0

    def check(self, t: float, value: float) -> bool:
        while self.samples and self.samples[0][0] <= t - self.span:
            _, old = self.samples.popleft()
            self.total -= old
            self.total_sq -= old * old
        fires = False
        n = len(self.samples)
        if n >= 60:
            mean = self.total / n
            sd = math.sqrt(max(0.0, self.total_sq / n - mean * mean))
            fires = value < mean - sd
        self.samples.append((t, value))
        self.total += value
        self.total_sq += value * value
        return fires


class AdwinRule:
    """river's ADWIN on the per-label error of the precision population."""

    def __init__(self) -> None:
        from river.drift import ADWIN

        self.adwin = ADWIN(delta=0.002)

    def check(self, error: int) -> bool:
        before = self.adwin.estimation
        self.adwin.update(error)
        return self.adwin.drift_detected and self.adwin.estimation > before


@dataclass
class KeyState:
    ours: Episodes = field(default_factory=Episodes)
    point: Episodes = field(default_factory=Episodes)
    moving: Episodes = field(default_factory=Episodes)
    adwin: Episodes = field(default_factory=Episodes)
    ma_rule: MovingAverageRule = field(default_factory=MovingAverageRule)
    adwin_rule: AdwinRule = field(default_factory=AdwinRule)


DETECTORS = ("ours", "point", "moving", "adwin")
NAMES = {"ours": "slo-monitor (default rules)", "point": "naive: 1h point estimate < objective",
         "moving": "naive: < 7-day MA - 1 sd", "adwin": "naive: ADWIN on per-label error"}


def previous_alerting(window: int = 3600) -> str:
    """The `alerting:` block of the defaults before the trend and change tests were on (commit
    bc0b67d): no trend or change test, the approaching warning's 6h window at 90% and the
    sustained rule at 95%, neither corrected for multiple looks."""
    tiers = []
    for d in defaults.BURN_RATES:
        confidence = 0.9 if d["severity"] == "warning" else d["confidence"]
        fields = [f"severity: {d['severity']}", f"long: {format_duration(round(window * d['long_fraction']))}",
                  f"short: {format_duration(round(window * d['short_fraction']))}",
                  f"threshold: {d['threshold']}", f"confidence: {confidence}",
                  f"for: {format_duration(round(window * d['for_fraction']))}"]
        if d.get("short_confidence") is not None:
            fields.append(f"short_confidence: {d['short_confidence']}")
        tiers.append("{" + ", ".join(fields) + "}")
    return ("{trend: null, change: null, sustained: {confidence: 0.95}, burn_rates: ["
            + ", ".join(tiers) + "]}")


def slo_text(alerting: str | None) -> str:
    """The benchmark's SLO, with an `alerting:` block (flow-style YAML) to try other rules."""
    return SLO if not alerting else SLO + f"    alerting: {alerting}\n"


def simulate(case: Case, rate: float, seed: int, alerting: str | None = None) -> tuple[dict, int, int, float]:
    """Run one scenario: per key (segment or WHOLE) and detector, the pages; counts; seconds."""
    t0 = time.perf_counter()
    scenario = SCENARIOS[case.name](BASE, **case.params)
    generator = TrafficGenerator(scenario, start=START, duration=case.days * DAY, rate_per_hour=rate, seed=seed,
                                 timestamp_format="epoch")
    slo_file = parse_slo_yaml(slo_text(alerting))
    engine = SloEngine(slo_file, "fraud-precision", shards=1, lateness=LATENESS, step=STEP)
    keys: dict[str | None, KeyState] = {}
    pending: dict[str, tuple] = {}
    order: deque[tuple[float, str]] = deque()
    horizon = 26 * HOUR               # longest label delay of any scenario (24 h) plus margin
    counts: dict[tuple, int] = {}     # (segment tuple, minute) -> predictions, as the join reports
    clock = START
    predictions = labels = 0

    def key_state(segment: str | None) -> KeyState:
        state = keys.get(segment)
        if state is None:
            state = keys[segment] = KeyState()
        return state

    def advance(now: float) -> None:
        nonlocal clock
        minute = now // STEP * STEP
        if minute <= clock:
            return
        clock = minute
        for (segment, start), n in [item for item in counts.items() if item[0][1] < minute]:
            engine.add_predictions("fraud-detector", segment, start, n)
            del counts[(segment, start)]
        for output in engine.clock("shard-0", minute):
            state = key_state(output.key.segment)
            if isinstance(output, AlertEvent):
                if output.action == "trigger":
                    state.ours.pages.append((output.event_time, f"{output.severity} {output.rule}"))
            elif isinstance(output, StatusSnapshot) and output.estimate is not None:
                enough = output.labels_in_metric >= MIN_LABELS
                state.point.update(output.event_time, enough and output.estimate < OBJECTIVE)
                if enough:
                    state.moving.update(output.event_time, state.ma_rule.check(output.event_time, output.estimate))

    for kind, t, record in generator.events():
        advance(t)
        pid = record["prediction_id"]
        if kind == "prediction":
            predictions += 1
            segment = tuple(sorted(record["segment"].items()))
            pending[pid] = (t, record["model_version"], record["predicted_label"], record["review_probability"],
                            record["score"], record["segment"])
            order.append((t, pid))
            while order[0][0] < t - horizon:
                pending.pop(order.popleft()[1], None)
            minute_key = (segment, t // STEP * STEP)
            counts[minute_key] = counts.get(minute_key, 0) + 1
            continue
        labels += 1
        found = pending.pop(pid, None)
        if found is None:
            continue
        predicted_at, version, flagged, p, score, seg = found
        joined = JoinedRecord(pid, "fraud-detector", version, predicted_at, t, flagged, record["label"], p, score,
                              seg, record.get("reviewer"))
        engine.add_joined(joined)
        if flagged == 1:
            error = int(record["label"] != 1)
            for segment in (WHOLE, f"country={seg['country']}"):
                state = key_state(segment)
                state.adwin.update(t, state.adwin_rule.check(error))
    advance(generator.end + LATENESS + 2 * STEP)
    pages = {segment: {d: getattr(state, d).pages for d in DETECTORS} for segment, state in keys.items()}
    return pages, predictions, labels, time.perf_counter() - t0


def _simulate(job: tuple) -> tuple:
    return simulate(*job)


@dataclass
class Score:
    false_pages: int = 0
    false_severities: dict = field(default_factory=dict)
    false_details: dict = field(default_factory=dict)     # "severity rule on key" -> count
    starvation: int = 0
    first_detection: float | None = None
    detail: str = ""

    def false_text(self) -> str:
        if not self.false_severities:
            return str(self.false_pages)
        parts = ", ".join(f"{n} {severity}" for severity, n in sorted(self.false_severities.items()))
        return f"{self.false_pages} ({parts})"


def score(case: Case, pages: dict, detector: str) -> Score:
    out = Score()
    change = START + case.params.get("change_at", math.inf)
    crossing = START + case.crossing if case.crossing is not None else None
    for segment, by_detector in pages.items():
        affected = "all" in case.affected or segment in case.affected
        for t, detail in by_detector[detector]:
            if crossing is not None and affected and t >= change:
                if out.first_detection is None or t < out.first_detection:
                    out.first_detection, out.detail = t, f"{segment or 'model'}: {detail}".rstrip(": ")
            elif case.name == "label_delay_spike" and "starvation" in detail and t >= change:
                out.starvation += 1
            else:
                out.false_pages += 1
                if detail:
                    severity = detail.split()[0]
                    out.false_severities[severity] = out.false_severities.get(severity, 0) + 1
                    where = f"{detail} on {segment or 'the model key'}"
                    out.false_details[where] = out.false_details.get(where, 0) + 1
    if out.first_detection is not None:
        out.first_detection -= crossing
    return out


def minutes(seconds: float | None) -> str:
    if seconds is None:
        return "missed"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    return f"{sign}{seconds / 3600:.1f} h" if seconds >= 3 * HOUR else f"{sign}{seconds / 60:.0f} min"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=6000.0, help="predictions per hour (10%% flagged)")
    parser.add_argument("--stable-days", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--scenario", action="append", help="only these (repeatable)")
    parser.add_argument("--jobs", type=int, default=2, help="scenarios simulated in parallel (default 2)")
    parser.add_argument("--alerting", help="an `alerting:` block for the SLO, flow-style YAML, to try other "
                                           "rules (e.g. '{sequential: {threshold: 12}}'); default: the defaults")
    parser.add_argument("--previous", action="store_true",
                        help="the defaults before the trend and change tests were on, for comparison "
                             "(the `alerting:` block is printed)")
    args = parser.parse_args()
    if args.previous:
        args.alerting = previous_alerting()

    print_machine("Detection quality (issue 6.4)")
    if args.alerting:
        print(f"SLO alerting changed from the defaults: `alerting: {args.alerting}`\n")
    rows = []
    summary: dict[str, dict[str, Score]] = {}
    watch = LoadWatch().start()
    every = cases(args.stable_days)
    chosen = [c for c in every if not args.scenario or c.name in args.scenario]
    # one seed per scenario, by its place in the full list: a scenario run alone gives the same figures
    jobs = [(case, args.rate, args.seed + every.index(case), args.alerting) for case in chosen]
    results = []
    with multiprocessing.get_context("fork").Pool(max(1, args.jobs)) as pool:
        for case, result in zip(chosen, pool.imap(_simulate, jobs)):
            results.append(result)
            print(f"{case.name}: {case.days:g} days, {result[1]:,} predictions, {result[2]:,} labels, "
                  f"{len(result[0])} keys, {result[3]:.0f} s", file=sys.stderr, flush=True)
    for case, (pages, predictions, labels, seconds) in zip(chosen, results):
        summary[case.name] = {}
        for detector in DETECTORS:
            s = score(case, pages, detector)
            summary[case.name][detector] = s
            per_month = s.false_pages * 30 / case.days
            delay = minutes(s.first_detection) if case.crossing is not None else "n/a"
            extra = f"{s.starvation} starvation warning(s) after the change (labels did stop)" if s.starvation else ""
            name = "slo-monitor (--alerting rules)" if detector == "ours" and args.alerting else NAMES[detector]
            rows.append([f"{case.name} ({case.days:g} d)", name, s.false_text(), f"{per_month:.1f}",
                         delay, s.detail if case.crossing is not None else extra])
    watch.stop()
    print(f"Simulated at {args.rate:,.0f} predictions/h (~{args.rate * 0.1:,.0f} flagged labels/h, of which the "
          f"8 countries get 3-40%; changes at day 7 of 8), one model, 9 keys (model + 8 countries), seeds "
          f"{args.seed}..{args.seed + len(every) - 1} (one per scenario, in the order of the table).\n")
    print(md_table(["scenario", "detector", "false pages", "per 30 days", "detection delay", "first page / note"],
                   rows))
    print()
    lines = []
    if "stable" in summary:
        ours = summary["stable"]["ours"].false_pages
        lines.append(f"- false pages of slo-monitor on {args.stable_days:g} stable days: **{ours}** "
                     f"(target 0: {verdict(ours == 0)})")
    for name, scores in summary.items():
        case = next(c for c in cases(args.stable_days) if c.name == name)
        if case.crossing is None:
            continue
        naive = [scores[d].first_detection for d in DETECTORS[1:] if scores[d].first_detection is not None]
        ours = scores["ours"].first_detection
        best = min(naive) if naive else None
        # a credible rule pages no more falsely than slo-monitor: on the stable days when they
        # were run, else in this scenario (the windowed naive rules page 1,000+ times a month)
        judge = summary.get("stable", scores)
        credible = [scores[d].first_detection for d in DETECTORS[1:] if scores[d].first_detection is not None
                    and judge[d].false_pages <= judge["ours"].false_pages
                    and scores[d].false_pages <= scores["ours"].false_pages]
        best_credible = min(credible) if credible else None
        ok = ours is not None and (best_credible is None or ours <= best_credible)
        lines.append(f"- {name}: slo-monitor {minutes(ours)}; best naive rule with no more false pages than "
                     f"slo-monitor {minutes(best_credible) if credible else 'none'} (target no worse: "
                     f"{verdict(ok)}); best naive rule of all {minutes(best)}")
    ours_false: dict[str, int] = {}
    for scores in summary.values():
        for where, n in scores["ours"].false_details.items():
            ours_false[where] = ours_false.get(where, 0) + n
    if ours_false:
        listed = "; ".join(f"{where} x{n}" for where, n in sorted(ours_false.items(), key=lambda kv: -kv[1]))
        lines.append(f"- slo-monitor's false pages, all scenarios, by severity, rule and key: {listed}")
    lines.append(f"- {watch.describe()} (the figures here do not depend on load)")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Alert rules: resolving the spec into concrete windows, and evaluating them at one step.

`resolve_rules` turns an SloSpec into a `RuleSet` (every duration in seconds, every default
filled in and scaled to the SLO window, the bucket width chosen). `evaluate` looks at the window
estimates of one evaluation step and returns the rules whose condition holds, each with one
human sentence; slo/policy.py turns those into alert lifecycles (durations, escalation,
hysteresis).

Common gates: a window with fewer than min_labels labels in the metric's population (or, for
recall, with no reviewed unflagged prediction) never contributes to an alert, whatever its
estimate says; and a burn-rate rule waits until the key has data for its whole long window (at
start-up a "6h" window holding 30 minutes would be a 30-minute rule with a 6-hour threshold).

>>> from slo.spec import parse_slo_yaml
>>> spec = parse_slo_yaml("slos: [{name: a, model_id: m, metric: precision, "
...                       "positive_label: 1, objective: 0.95}]").slos[0]
>>> rules = resolve_rules(spec)
>>> rules.bucket, [r.id for r in rules.burn_rates], rules.longest
(60, ['burn_20m_5m', 'burn_6h_30m', 'burn_6h_1h'], 21600)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from slo import defaults
from slo.burn_rate import burn_rate
from slo.durations import format_duration, parse_duration
from slo.estimators import Estimate
from slo.intervals import Bounds

if TYPE_CHECKING:  # spec imports this module lazily; avoid the cycle at run time
    from slo.spec import SloSpec

SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2, "critical": 3}

# Every paging gate takes the exact (Clopper-Pearson) bound, whatever `interval` says (that one
# is for the bounds shown in slo-status). The gates sit in the far tail (99%-99.995%) and are
# re-tested every minute; Wilson's far tail is optimistic at small counts: at the 30-60 labels of
# a small segment, and at the few reviewed false negatives of a recall SLO whose unflagged
# predictions are reviewed at 2%, where it paged a healthy recall 2-7 times in 30 simulated
# days (tests/slo/test_slo_recall_sampling.py). The price is a little detection delay: the fast
# burn moved from 99.99% to 99.95% to keep it (slo/defaults.py); bench/detection.py's figures
# were unchanged.
EXACT_BOUNDS = Bounds("clopper-pearson")


class RuleConfigError(ValueError):
    """A rule setting that cannot work, with its key path relative to the SLO."""

    def __init__(self, path: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.path = path
        self.message = message


@dataclass(frozen=True, slots=True)
class BreachRule:
    severity: str
    window: int
    confidence: float
    for_s: int
    id: str = "breach"


@dataclass(frozen=True, slots=True)
class BurnRateRule:
    severity: str
    long: int
    short: int
    threshold: float
    confidence: float | None
    for_s: int
    # The short window must be below the objective with this confidence: evidence that the
    # burn is still going on, not a noisy crossing while the long window still holds the
    # errors of an episode that already ended.
    short_confidence: float | None = None

    @property
    def id(self) -> str:
        return f"burn_{format_duration(self.long)}_{format_duration(self.short)}"


@dataclass(frozen=True, slots=True)
class SustainedRule:
    severity: str
    window: int
    confidence: float
    for_s: int
    id: str = "sustained"


@dataclass(frozen=True, slots=True)
class StarvationRule:
    severity: str
    window: int
    for_s: int
    fraction: float = 0.25  # labels per prediction, as a share of the key's longest-window rate
    id: str = "starvation"


@dataclass(frozen=True, slots=True)
class SequentialRule:
    severity: str
    shift: float
    threshold: float
    id: str = "sequential"
    for_s: int = 0


@dataclass(frozen=True, slots=True)
class TrendRule:
    severity: str
    threshold: float
    memory: int
    confidence: float
    approach: float
    shifts: tuple[float, ...]     # alternatives, in error budgets (one CUSUM chart each)
    reference_labels: float       # effective labels the usual level needs before it is used
    id: str = "trend"
    for_s: int = 0


@dataclass(frozen=True, slots=True)
class ChangeRule:
    severity: str
    delta: float                  # ADWIN's confidence parameter
    clock: int                    # labels between ADWIN's checks for a cut
    hold: int                     # seconds an increase stays latched
    approach: float
    id: str = "change"
    for_s: int = 0


@dataclass(frozen=True, slots=True)
class Compliance:
    period: int
    target: float
    timeslice: int


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Everything the tracker needs from a spec, in seconds."""

    metric: str
    objective: float
    window: int
    min_labels: int
    confidence: float
    interval: str
    bucket: int
    ahead: int                        # seconds of data accepted ahead of the watermark
    breach: BreachRule | None
    burn_rates: tuple[BurnRateRule, ...]
    sustained: SustainedRule | None
    starvation: StarvationRule | None
    sequential: SequentialRule | None
    trend: TrendRule | None
    change: ChangeRule | None
    hysteresis: float
    resolve_for: int
    compliance: Compliance | None
    windows: tuple[int, ...]          # every window length evaluated, ascending

    @property
    def longest(self) -> int:
        return self.windows[-1]

    @property
    def budget(self) -> float:
        return 1.0 - self.objective

    def ring_buckets(self) -> tuple[int, int]:
        """(span, ahead) of the bucket ring, in buckets."""
        return self.longest // self.bucket, math.ceil(self.ahead / self.bucket)


def _scaled(window: int, fraction: float, bucket: int) -> int:
    """`fraction` of the window rounded to whole buckets (at least one)."""
    return max(bucket, int(round(window * fraction / bucket)) * bucket)


def _choose_bucket(spec: SloSpec, explicit: list[tuple[tuple[str | int, ...], int]],
                   longest_guess: int) -> int:
    """The given bucket, else the smallest choice that divides every window and fits the ring."""
    if spec.bucket is not None:
        return spec.bucket
    ahead = parse_duration(defaults.AHEAD) + spec.evaluation_delay
    fitting = [parse_duration(text) for text in defaults.BUCKET_CHOICES
               if longest_guess // parse_duration(text) + math.ceil(ahead / parse_duration(text))
               <= defaults.MAX_RING_BUCKETS]
    if not fitting:
        fitting = [parse_duration(defaults.BUCKET_CHOICES[-1])]
    for bucket in fitting:
        if not any(w % bucket for _, w in explicit):
            return bucket
    smallest = fitting[0]
    path = next(p for p, w in explicit if w % smallest)
    raise RuleConfigError(path, f"must be a whole number of {format_duration(smallest)} buckets "
                                "(or set `bucket` to a duration that divides every window)")


def resolve_rules(spec: SloSpec) -> RuleSet:
    """The concrete rule set of an SloSpec; RuleConfigError names the offending key."""
    window = spec.window
    alerting = spec.alerting
    explicit: list[tuple[tuple[str | int, ...], int]] = [(("window",), window)]
    if alerting.breach is not None and alerting.breach.window is not None:
        explicit.append((("alerting", "breach", "window"), alerting.breach.window))
    custom_burns = () if alerting.default_burn_rates else (alerting.burn_rates or ())
    for i, b in enumerate(custom_burns):
        explicit.append((("alerting", "burn_rates", i, "long"), b.long))
        explicit.append((("alerting", "burn_rates", i, "short"), b.short))
        if b.short >= b.long:
            raise RuleConfigError(("alerting", "burn_rates", i, "short"),
                                  f"must be shorter than long ({format_duration(b.long)})")
    compliance = spec.compliance
    if compliance is not None:
        timeslice = compliance.timeslice or window
        explicit.append((("compliance", "timeslice"), timeslice))
        if compliance.period % timeslice:
            raise RuleConfigError(("compliance", "period"),
                                  f"must be a whole number of timeslices "
                                  f"({format_duration(timeslice)})")
        if compliance.period // timeslice > 4096:
            raise RuleConfigError(("compliance", "period"),
                                  f"holds {compliance.period // timeslice} timeslices; "
                                  "at most 4096 (use a longer timeslice)")
    default_longest = max(window * d["long_fraction"] for d in defaults.BURN_RATES)
    longest_guess = max([w for _, w in explicit]
                        + ([int(default_longest)] if alerting.default_burn_rates else []))
    bucket = _choose_bucket(spec, explicit, longest_guess)
    for path, value in explicit:
        if value % bucket:
            raise RuleConfigError(path, f"must be a whole number of buckets "
                                        f"({format_duration(bucket)}; set `bucket` to change it)")

    breach = None
    if alerting.breach is not None:
        b = alerting.breach
        breach = BreachRule(b.severity, b.window or window, b.confidence,
                            b.for_ if b.for_ is not None
                            else _scaled(window, defaults.BREACH["for_fraction"], bucket))
    if alerting.default_burn_rates:
        burns = tuple(BurnRateRule(d["severity"], _scaled(window, d["long_fraction"], bucket),
                                   _scaled(window, d["short_fraction"], bucket), d["threshold"],
                                   d["confidence"], int(window * d["for_fraction"]),
                                   d.get("short_confidence"))
                      for d in defaults.BURN_RATES)
        burns = tuple(r for r in burns if r.short < r.long)
    else:
        burns = tuple(BurnRateRule(b.severity, b.long, b.short, b.threshold, b.confidence, b.for_,
                                   b.short_confidence)
                      for b in custom_burns)
    ids = [r.id for r in burns]
    for i, rid in enumerate(ids):
        if rid in ids[:i]:
            raise RuleConfigError(("alerting", "burn_rates", i),
                                  f"same windows as burn_rates[{ids.index(rid)}]")
    sustained = None
    if alerting.sustained is not None:
        s = alerting.sustained
        sustained = SustainedRule(s.severity, window, s.confidence,
                                  s.for_ if s.for_ is not None
                                  else int(window * defaults.SUSTAINED["for_fraction"]))
    starvation = None
    if alerting.starvation is not None:
        s = alerting.starvation
        starvation = StarvationRule(s.severity, window,
                                    s.for_ if s.for_ is not None
                                    else int(window * defaults.STARVATION["for_fraction"]),
                                    s.fraction)
    sequential = None
    if alerting.sequential is not None:
        q = alerting.sequential
        sequential = SequentialRule(q.severity, q.shift, q.threshold)
    trend = None
    if alerting.trend is not None:
        q = alerting.trend
        trend = TrendRule(q.severity, q.threshold, q.memory, q.confidence, q.approach, q.shifts,
                          defaults.TREND["reference_labels"] * spec.min_labels)
    change = None
    if alerting.change is not None:
        q = alerting.change
        change = ChangeRule(q.severity, q.delta, q.clock,
                            q.hold if q.hold is not None
                            else int(window * defaults.CHANGE["hold_fraction"]), q.approach)
    resolve = alerting.resolve
    hysteresis = (resolve.hysteresis if resolve.hysteresis is not None
                  else defaults.RESOLVE["hysteresis_budget_fraction"] * (1.0 - spec.objective))
    if spec.objective + hysteresis >= 1.0:
        raise RuleConfigError(("alerting", "resolve", "hysteresis"),
                              f"objective + hysteresis must stay below 1 (got {hysteresis})")
    resolve_for = (resolve.for_ if resolve.for_ is not None
                   else int(window * defaults.RESOLVE["for_fraction"]))
    comp = None
    if compliance is not None:
        comp = Compliance(compliance.period, compliance.target, compliance.timeslice or window)

    windows = {window}
    if breach:
        windows.add(breach.window)
    for r in burns:
        windows.update((r.long, r.short))
    if comp:
        windows.add(comp.timeslice)
    rules = RuleSet(spec.metric, spec.objective, window, spec.min_labels, spec.confidence,
                    spec.interval, bucket, parse_duration(defaults.AHEAD) + spec.evaluation_delay, breach, burns,
                    sustained, starvation, sequential, trend, change, hysteresis, resolve_for, comp,
                    tuple(sorted(windows)))
    span, ahead = rules.ring_buckets()
    if span + ahead > 4 * defaults.MAX_RING_BUCKETS:
        raise RuleConfigError(("bucket",) if spec.bucket is not None else ("window",),
                              f"the longest window ({format_duration(rules.longest)}) needs "
                              f"{span + ahead} buckets of {format_duration(bucket)}; at most "
                              f"{4 * defaults.MAX_RING_BUCKETS} (use a larger bucket)")
    return rules


# --- evaluation at one step ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Finding:
    """A rule whose condition holds at this step (it fires once it held for `for_s`)."""

    rule: str
    severity: str
    for_s: int
    reason: str


def clearances(rules: RuleSet, estimates: Mapping[int, Estimate],
               cusum: float | None, trend: float | None = None,
               change: bool | None = None) -> dict[str, bool]:
    """Per rule: is it clear *with margin* (the resolve hysteresis, in that rule's terms)?

    Burn-rate rules: long window known and below threshold - hysteresis / budget (0.1 budgets
    by default). Window rules: the window estimate at or above objective + hysteresis. The
    sequential test: statistic at most half its threshold; trend: that, or the window's burn
    at most its `approach` minus the margin; change: its alarm off, or that burn condition.
    Starvation: enough labels again.
    """
    main = estimates[rules.window]
    above = main.sufficient and main.value >= rules.objective + rules.hysteresis
    margin = rules.hysteresis / rules.budget
    out = {"sustained": above, "starvation": main.sufficient}
    if rules.breach is not None:
        e = estimates[rules.breach.window]
        out["breach"] = e.sufficient and e.value >= rules.objective + rules.hysteresis
    for r in rules.burn_rates:
        e = estimates[r.long]
        out[r.id] = e.sufficient and burn_rate(e.value, rules.objective) <= r.threshold - margin
    if rules.sequential is not None:
        out["sequential"] = cusum is None or cusum <= rules.sequential.threshold / 2.0
    if rules.trend is not None:
        # half the evidence gone, or the window clearly short of the approach it needs to warn
        # (a lasting but compliant change keeps the evidence while the usual level is frozen)
        out["trend"] = (trend is None or trend <= rules.trend.threshold / 2.0
                        or (main.sufficient
                            and burn_rate(main.value, rules.objective) <= rules.trend.approach - margin))
    if rules.change is not None:
        out["change"] = (not change
                         or (main.sufficient
                             and burn_rate(main.value, rules.objective) <= rules.change.approach - margin))
    return out


def _pct(x: float) -> str:
    return f"{x:.4g}"


def evaluate(rules: RuleSet, estimates: Mapping[int, Estimate],
             cusum: float | None, predictions: int | None, history: float,
             trend: tuple[float, float, bool] | None = None,
             change: tuple[bool, float, float] | None = None) -> list[Finding]:
    """Rules whose condition holds given the window `estimates` (keyed by window seconds).

    `history`: seconds of event time the key has data for. `cusum`: the sequential statistic;
    `trend`: (statistic, usual error rate bound, alarm) of the trend test, None while inactive;
    `change`: (alarm, error rate before, error rate after) of the change test.
    """
    out: list[Finding] = []
    metric, objective = rules.metric, rules.objective
    main = estimates[rules.window]
    wname = format_duration(rules.window)

    if rules.breach is not None:
        r = rules.breach
        e = estimates[r.window]
        if e.sufficient:
            upper = e.upper_bound(EXACT_BOUNDS, r.confidence)
            if upper < objective:
                out.append(Finding(r.id, r.severity, r.for_s,
                                   f"{metric} {_pct(e.value)} over the last "
                                   f"{format_duration(r.window)} ({e.counts.population} labels) is "
                                   f"below the {objective:g} objective with "
                                   f"{r.confidence:.4g} confidence (upper bound {_pct(upper)})"))
    for r in rules.burn_rates:
        long, short = estimates[r.long], estimates[r.short]
        if not (long.sufficient and short.sufficient) or history < r.long:
            continue
        b_long, b_short = burn_rate(long.value, objective), burn_rate(short.value, objective)
        if b_long < r.threshold or b_short < r.threshold:
            continue
        # Long window confidently bad: below the objective for thresholds of 1x or more; for a
        # lower threshold (approaching the objective), confidently burning at that threshold.
        long_limit = objective if r.threshold >= 1.0 else 1.0 - r.threshold * (1.0 - objective)
        if r.confidence is not None and long.upper_bound(EXACT_BOUNDS, r.confidence) >= long_limit:
            continue
        # confidently burning at the threshold: the short window's metric is below the value at
        # which its burn rate equals the threshold (the objective itself for a threshold of 1x)
        burning_limit = 1.0 - r.threshold * (1.0 - objective)
        if (r.short_confidence is not None
                and short.upper_bound(EXACT_BOUNDS, r.short_confidence) >= burning_limit):
            continue
        kind = "approaching the objective" if r.threshold < 1.0 else "burn rate"
        out.append(Finding(r.id, r.severity, r.for_s,
                           f"{kind}: errors at {b_long:.2f}x the budget over the last "
                           f"{format_duration(r.long)} and {b_short:.2f}x over "
                           f"{format_duration(r.short)} (threshold {r.threshold:g}x; "
                           f"{metric} {_pct(long.value)} and {_pct(short.value)})"))
    if rules.sustained is not None and main.sufficient:
        r = rules.sustained
        upper = main.value if r.confidence == 0.5 else main.upper_bound(EXACT_BOUNDS, r.confidence)
        if upper < objective:   # (0.5: the plain point estimate, as documented)
            out.append(Finding(r.id, r.severity, r.for_s,
                               f"probable breach: {metric} over the last {wname} is "
                               f"{_pct(main.value)} ({main.counts.population} labels), below the "
                               f"{objective:g} objective with {r.confidence:.2g} confidence, for "
                               f"at least {format_duration(r.for_s)}"))
    if rules.sequential is not None and cusum is not None and main.sufficient:
        r = rules.sequential
        if cusum >= r.threshold:
            errors = "false positives" if metric == "precision" else "false negatives"
            out.append(Finding(r.id, r.severity, r.for_s,
                               f"sequential test: {errors} far above the "
                               f"{1 - objective:.3g} budget (CUSUM {cusum:.1f} >= "
                               f"{r.threshold:g}; {metric} {_pct(main.value)} over the last "
                               f"{wname})"))
    # the moved-up warnings: the error rate rose from the key's usual level (CUSUMs, ADWIN), and
    # the window's point estimate already spends `approach` of the budget
    errors = "false positives" if metric == "precision" else "false negatives"
    burn = burn_rate(main.value, objective) if main.sufficient else -1.0
    now = f"{metric} {_pct(main.value)} over the last {wname} ({burn:.2f}x the budget)" if burn >= 0 else ""
    if rules.trend is not None and trend is not None and trend[2] and burn >= rules.trend.approach:
        r = rules.trend
        statistic, usual, _ = trend
        out.append(Finding(r.id, r.severity, r.for_s,
                           f"trend: {errors} rose from their usual rate (at most {usual:.3g}) to "
                           f"the {1 - objective:.3g} budget (CUSUM {statistic:.1f} >= "
                           f"{r.threshold:g}); {now}"))
    if rules.change is not None and change is not None and change[0] and burn >= rules.change.approach:
        r = rules.change
        _, usual, level = change
        out.append(Finding(r.id, r.severity, r.for_s,
                           f"change: {errors} rose from {usual:.3g} to {level:.3g} of labels "
                           f"(ADWIN, delta {r.delta:g}); {now}"))
    if (rules.starvation is not None and predictions is not None and not main.sufficient
            and predictions >= rules.min_labels):
        # Starvation means labels *stopped*: this window's labels per prediction fell below a
        # share of the key's usual rate (over its longest window). A small segment that never
        # has min_labels labels an hour is not starved; it is small.
        r = rules.starvation
        usual = estimates[max(estimates)].counts
        usual_predictions = usual.predictions or 0
        if usual.labels >= rules.min_labels and usual_predictions > 0:
            usual_rate = usual.labels / usual_predictions
            rate = main.counts.labels / predictions
            if rate < r.fraction * usual_rate:
                out.append(Finding(r.id, r.severity, r.for_s,
                                   f"label starvation: {predictions} predictions but only "
                                   f"{main.counts.labels} labels over the last {wname}, "
                                   f"{rate:.3g} per prediction against {usual_rate:.3g} usually "
                                   f"(alert below {r.fraction:g} of usual; {main.why_insufficient})"))
    return out

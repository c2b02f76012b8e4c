"""Scenarios: how the model's behaviour changes over event time, as plain data.

A `Scenario` is a base `Behaviour` plus `Change`s (move some knobs at an offset, optionally with a
ramp, a recovery time, and only for one segment value or model version) and `Rollout`s (a new
model version takes a share of traffic). Tests and benchmarks can build their own; the named ones
in `SCENARIOS` cover the cases the monitor must handle. Offsets are seconds after the run's start.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from simulator.durations import format_duration
from simulator.model import BEHAVIOUR_FIELDS, Behaviour

HOUR = 3600.0


@dataclass(frozen=True)
class Change:
    """From `at` (ramping linearly over `ramp`) until `until`, knobs in `to` take new values.

    `segment` (e.g. {"country": "DE"}) or `model_version` restrict it to matching predictions.
    Later changes in a scenario apply on top of earlier ones.
    """

    at: float
    to: Mapping[str, float]
    ramp: float = 0.0
    until: float | None = None
    segment: Mapping[str, str] | None = None
    model_version: str | None = None
    note: str = ""

    def __post_init__(self) -> None:
        unknown = set(self.to) - set(BEHAVIOUR_FIELDS)
        if unknown:
            raise ValueError(f"unknown behaviour knobs {sorted(unknown)}; known: {BEHAVIOUR_FIELDS}")
        if self.at < 0 or self.ramp < 0:
            raise ValueError("change offsets and ramps must be >= 0")
        if self.until is not None and self.until <= self.at:
            raise ValueError(f"recovery ({self.until}s) must come after the change ({self.at}s)")
        if (self.segment or self.model_version) and "traffic_multiplier" in self.to:
            raise ValueError("traffic_multiplier can only change for all traffic, not one segment/version")

    @property
    def is_global(self) -> bool:
        return not self.segment and self.model_version is None

    def weight(self, offsets: np.ndarray) -> np.ndarray:
        """How far the change has taken effect at each offset: 0 before, 1 fully in force."""
        if self.ramp > 0:
            w = np.clip((offsets - self.at) / self.ramp, 0.0, 1.0)
        else:
            w = (offsets >= self.at).astype(float)
        if self.until is not None:
            w = np.where(offsets >= self.until, 0.0, w)
        return w


@dataclass(frozen=True)
class Rollout:
    """From `at` (ramping over `ramp`) until `until` (a rollback), `share` of traffic uses `version`."""

    at: float
    version: str
    share: float = 1.0
    ramp: float = 0.0
    until: float | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.share <= 1:
            raise ValueError("rollout share must be in [0, 1]")
        if self.until is not None and self.until <= self.at:
            raise ValueError("rollback must come after the rollout")

    def share_at(self, offsets: np.ndarray) -> np.ndarray:
        w = Change(self.at, {}, self.ramp, self.until).weight(offsets)
        return self.share * w


@dataclass(frozen=True)
class Scenario:
    """A base behaviour and what happens to it during the run."""

    name: str
    base: Behaviour = field(default_factory=Behaviour)
    changes: tuple[Change, ...] = ()
    rollouts: tuple[Rollout, ...] = ()
    base_version: str = "v1"
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "changes", tuple(self.changes))
        object.__setattr__(self, "rollouts", tuple(self.rollouts))
        for change in self.changes:
            self.base.with_(**change.to)  # each change alone must give a valid behaviour

    def versions(self, offsets: np.ndarray, draws: np.ndarray) -> np.ndarray:
        """Model version per event from uniform `draws`; later rollouts take precedence."""
        names = [self.base_version] + [r.version for r in self.rollouts]
        width = max(len(v) for v in names)
        out = np.full(len(offsets), self.base_version, dtype=f"<U{width}")
        for rollout in self.rollouts:
            out = np.where(draws < rollout.share_at(offsets), rollout.version, out)
        return out

    def resolve(self, offsets: np.ndarray, segments: Mapping[str, np.ndarray] | None = None,
                versions: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Each behaviour knob's value at each event (parallel arrays)."""
        n = len(offsets)
        values = {name: np.full(n, value, dtype=float) for name, value in self.base.as_dict().items()}
        for change in self.changes:
            w = change.weight(offsets)
            if change.segment:
                for key, value in change.segment.items():
                    if segments is None or key not in segments:
                        raise ValueError(f"change for segment {key}={value} but no {key!r} segment in the data")
                    w = w * (segments[key] == value)
            if change.model_version is not None:
                if versions is None:
                    raise ValueError("change for a model version but no versions given")
                w = w * (versions == change.model_version)
            for knob, target in change.to.items():
                values[knob] += w * (target - values[knob])
        return values

    def traffic_multiplier(self, offsets: np.ndarray) -> np.ndarray:
        value = np.full(len(offsets), self.base.traffic_multiplier, dtype=float)
        for change in self.changes:
            if "traffic_multiplier" in change.to:
                value += change.weight(offsets) * (change.to["traffic_multiplier"] - value)
        return value

    def max_traffic_multiplier(self) -> float:
        return max([self.base.traffic_multiplier]
                   + [c.to["traffic_multiplier"] for c in self.changes if "traffic_multiplier" in c.to])

    def boundaries(self) -> list[float]:
        """Offsets where something starts or stops changing; they split the run into phases."""
        points: set[float] = set()
        for item in (*self.changes, *self.rollouts):
            points.add(item.at)
            if item.ramp:
                points.add(item.at + item.ramp)
            if item.until is not None:
                points.add(item.until)
        return sorted(p for p in points if p > 0)

    def timeline(self) -> list[str]:
        """Human-readable list of what happens when, for summaries and --list-scenarios."""
        lines = []
        for c in self.changes:
            where = ""
            if c.segment:
                where = " for " + ",".join(f"{k}={v}" for k, v in c.segment.items())
            if c.model_version is not None:
                where += f" for version {c.model_version}"
            what = ", ".join(f"{k} {getattr(self.base, k):g} -> {v:g}" for k, v in c.to.items())
            ramp = f" over {format_duration(c.ramp)}" if c.ramp else ""
            back = f", back at +{format_duration(c.until)}" if c.until is not None else ""
            lines.append(f"+{format_duration(c.at)}: {what}{where}{ramp}{back}")
        for r in self.rollouts:
            ramp = f" over {format_duration(r.ramp)}" if r.ramp else ""
            back = f", rolled back at +{format_duration(r.until)}" if r.until is not None else ""
            lines.append(f"+{format_duration(r.at)}: version {r.version} takes {r.share:.0%} of traffic{ramp}{back}")
        return lines


# ---------------------------------------------------------------------------------------------
# Named scenarios. Each builder takes the base behaviour plus keyword parameters with defaults;
# `build_scenario` fills them from the command line. Offsets are seconds after the start.

ScenarioBuilder = Callable[..., Scenario]
SCENARIOS: dict[str, ScenarioBuilder] = {}


def _register(fn: ScenarioBuilder) -> ScenarioBuilder:
    SCENARIOS[fn.__name__] = fn
    return fn


def _parse_segment(segment: str | Mapping[str, str]) -> dict[str, str]:
    if isinstance(segment, Mapping):
        return dict(segment)
    key, sep, value = segment.partition("=")
    if not sep or not key or not value:
        raise ValueError(f"segment must look like key=value, e.g. country=DE (got {segment!r})")
    return {key.strip(): value.strip()}


@_register
def stable(base: Behaviour | None = None) -> Scenario:
    """Nothing changes: the model meets its targets all along."""
    return Scenario("stable", base or Behaviour(), description=stable.__doc__)


@_register
def precision_drop(base: Behaviour | None = None, *, change_at: float = 6 * HOUR,
                   precision_after: float = 0.85, recover_at: float | None = None,
                   ramp: float = 0.0) -> Scenario:
    """Precision of the flagged class falls sharply at T (optionally recovering at T2)."""
    return Scenario("precision_drop", base or Behaviour(), changes=(
        Change(change_at, {"precision": precision_after}, ramp=ramp, until=recover_at, note="precision drop"),),
        description=precision_drop.__doc__)


@_register
def recall_drop(base: Behaviour | None = None, *, change_at: float = 6 * HOUR,
                recall_after: float = 0.70, recover_at: float | None = None,
                ramp: float = 0.0) -> Scenario:
    """Recall falls at T: more positives slip through unflagged (seen mostly via sampled reviews)."""
    return Scenario("recall_drop", base or Behaviour(), changes=(
        Change(change_at, {"recall": recall_after}, ramp=ramp, until=recover_at, note="recall drop"),),
        description=recall_drop.__doc__)


@_register
def gradual_decline(base: Behaviour | None = None, *, change_at: float = 6 * HOUR,
                    precision_after: float = 0.88, recall_after: float | None = None,
                    ramp: float = 24 * HOUR, recover_at: float | None = None) -> Scenario:
    """Precision (and optionally recall) decays linearly from T over `ramp`: slow model rot."""
    to = {"precision": precision_after}
    if recall_after is not None:
        to["recall"] = recall_after
    return Scenario("gradual_decline", base or Behaviour(), changes=(
        Change(change_at, to, ramp=ramp, until=recover_at, note="gradual decline"),),
        description=gradual_decline.__doc__)


@_register
def low_traffic(base: Behaviour | None = None, *, change_at: float = 6 * HOUR,
                traffic_factor: float = 0.05, recover_at: float | None = None) -> Scenario:
    """Traffic falls to a small fraction at T, so windows hold too few labels to judge."""
    return Scenario("low_traffic", base or Behaviour(), changes=(
        Change(change_at, {"traffic_multiplier": traffic_factor}, until=recover_at, note="low traffic"),),
        description=low_traffic.__doc__)


@_register
def segment_drop(base: Behaviour | None = None, *, change_at: float = 6 * HOUR,
                 segment: str | Mapping[str, str] = "country=DE", precision_after: float = 0.80,
                 recover_at: float | None = None) -> Scenario:
    """Only one segment value (default country=DE) loses precision at T; the overall number barely moves."""
    seg = _parse_segment(segment)
    return Scenario("segment_drop", base or Behaviour(), changes=(
        Change(change_at, {"precision": precision_after}, until=recover_at, segment=seg, note="segment drop"),),
        description=segment_drop.__doc__)


@_register
def label_delay_spike(base: Behaviour | None = None, *, change_at: float = 6 * HOUR,
                      label_delay_after: float = 4 * HOUR, max_label_delay_after: float = 24 * HOUR,
                      recover_at: float | None = None) -> Scenario:
    """Reviews slow down hugely from T (backlog): labels arrive hours late; the model is fine."""
    b = base or Behaviour()
    return Scenario("label_delay_spike", b, changes=(
        Change(change_at, {"label_delay_median": label_delay_after,
                           "label_delay_max": max(max_label_delay_after, b.label_delay_min)},
               until=recover_at, note="label delay spike"),),
        description=label_delay_spike.__doc__)


_SHIFT_KNOBS = {"amount": "amount_shift", "account_age_days": "account_age_shift",
                "txn_count_24h": "txn_count_shift"}


@_register
def feature_shift(base: Behaviour | None = None, *, change_at: float = 6 * HOUR,
                  feature: str = "amount", shift: float = 1.5, precision_after: float = 0.92,
                  drift_lag: float = 2 * HOUR, ramp: float = HOUR,
                  recover_at: float | None = None) -> Scenario:
    """A feature's distribution shifts at T (data drift); precision sags later and slightly."""
    if feature not in _SHIFT_KNOBS:
        raise ValueError(f"feature_shift supports {sorted(_SHIFT_KNOBS)}, not {feature!r}")
    changes = [Change(change_at, {_SHIFT_KNOBS[feature]: shift}, until=recover_at, note=f"{feature} drift")]
    if recover_at is None or recover_at > change_at + drift_lag:
        changes.append(Change(change_at + drift_lag, {"precision": precision_after}, ramp=ramp,
                              until=recover_at, note="precision sags after drift"))
    return Scenario("feature_shift", base or Behaviour(), changes=tuple(changes),
                    description=feature_shift.__doc__)


@_register
def bad_version(base: Behaviour | None = None, *, change_at: float = 6 * HOUR,
                new_version: str = "v2", rollout_share: float = 0.5, precision_after: float = 0.80,
                recall_after: float | None = None, recover_at: float | None = None) -> Scenario:
    """A new model version takes `rollout_share` of traffic at T and only it is worse; `recover_at` rolls it back."""
    to = {"precision": precision_after}
    if recall_after is not None:
        to["recall"] = recall_after
    return Scenario("bad_version", base or Behaviour(),
                    rollouts=(Rollout(change_at, new_version, share=rollout_share, until=recover_at),),
                    changes=(Change(change_at, to, model_version=new_version, note="bad version"),),
                    description=bad_version.__doc__)


_BREAKAGES = {"unit": {"amount_scale": 100.0}, "nulls": {"account_age_null_rate": 0.6},
              "categories": {"unseen_category_rate": 0.4}}


@_register
def upstream_change(base: Behaviour | None = None, *, change_at: float = 6 * HOUR,
                    breakage: str = "unit", precision_after: float = 0.85,
                    recover_at: float | None = None) -> Scenario:
    """An upstream pipeline breaks at T (breakage: unit = amount sent in cents, nulls = most
    account ages null, categories = unmapped merchant categories) and precision falls with it."""
    if breakage not in _BREAKAGES:
        raise ValueError(f"upstream_change breakage must be one of {sorted(_BREAKAGES)}, not {breakage!r}")
    return Scenario("upstream_change", base or Behaviour(), changes=(
        Change(change_at, {**_BREAKAGES[breakage], "precision": precision_after}, until=recover_at,
               note=f"upstream {breakage}"),), description=upstream_change.__doc__)


@_register
def bad_reviewer(base: Behaviour | None = None, *, change_at: float = 6 * HOUR,
                 flip_rate: float = 0.5, recover_at: float | None = None) -> Scenario:
    """From T one reviewer (the population's first) records the wrong class for `flip_rate` of
    their reviews; the model is fine but its measured metric falls (a labelling problem)."""
    return Scenario("bad_reviewer", base or Behaviour(), changes=(
        Change(change_at, {"bad_reviewer_flip_rate": flip_rate}, until=recover_at,
               note="bad reviewer"),), description=bad_reviewer.__doc__)


def scenario_parameters(name: str) -> dict[str, object]:
    """A named scenario's parameters and their defaults (beyond `base`)."""
    sig = inspect.signature(SCENARIOS[name])
    return {p.name: p.default for p in sig.parameters.values() if p.name != "base"}


def build_scenario(name: str, base: Behaviour | None = None, *, ignore_unknown: bool = False,
                   **params: object) -> Scenario:
    """Build a named scenario; `params` override its defaults (None means "keep the default").

    With `ignore_unknown`, parameters the scenario does not take are dropped (the CLI passes all
    of its scenario options to whichever scenario was chosen).
    """
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
    accepted = scenario_parameters(name)
    given = {k: v for k, v in params.items() if v is not None}
    unknown = set(given) - set(accepted)
    if unknown and not ignore_unknown:
        raise TypeError(f"scenario {name!r} takes {sorted(accepted) or 'no parameters'}, not {sorted(unknown)}")
    return SCENARIOS[name](base, **{k: v for k, v in given.items() if k in accepted})


def describe_scenarios() -> str:
    """One paragraph per named scenario with its parameters, for --list-scenarios."""
    out = []
    for name, fn in SCENARIOS.items():
        params = ", ".join(
            f"{k}={format_duration(v) if k in _DURATION_PARAMS and isinstance(v, float) else v}"
            for k, v in scenario_parameters(name).items())
        out.append(f"{name}: {inspect.getdoc(fn)}\n    parameters: {params or '(none)'}")
    return "\n".join(out)


_DURATION_PARAMS = {"change_at", "recover_at", "ramp", "drift_lag", "label_delay_after",
                    "max_label_delay_after"}

"""The composite rule: warn when the inputs drifted AND a proxy of the metric got worse.

Why both: drift alone is common and often harmless (a marketing campaign changes the amounts;
the model copes), and a proxy alone is noisy; together they say "the model sees unfamiliar data
and behaves differently", usually hours before the labels can confirm a drop. Proxies:

- ``estimated_metric``: the label-free estimate fell below the reference's by more than
  `min_decline`, with the drift block's confidence (slo/drift/cbpe.py);
- ``flagged_rate``: the share of flagged predictions moved by at least `min_rate_change`
  (relative) from the reference's, significantly at `alpha`;
- ``detectors``: a river change detector fired within the current window.

>>> from slo.drift.config import WarningSpec
>>> rule = WarningSpec(proxies=("flagged_rate",))
>>> rate = RateChange(current=0.031, reference=0.020, p_value=1e-6, changed=True)
>>> w = composite(rule, ["amount"], None, rate, [], window_start=0.0)
>>> w.active, w.proxies
(True, ('flagged_rate',))
>>> w.reason
'amount drifted and the flagged rate rose from 0.02 to 0.031 (p = 1e-06)'
>>> composite(rule, [], None, rate, [], window_start=0.0).active
False
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slo.drift.cbpe import MetricEstimate
from slo.drift.config import WarningSpec
from slo.drift.detectors import StreamDetector
from schemas.timestamps import format_event_time as rfc3339


@dataclass(frozen=True)
class RateChange:
    """The flagged rate of the current window against the reference's."""

    current: float | None
    reference: float | None
    p_value: float | None
    changed: bool       # significant at alpha and at least min_rate_change relative

    def to_record(self) -> dict:
        return {"current": self.current, "reference": self.reference, "p_value": self.p_value,
                "changed": self.changed}


@dataclass(frozen=True)
class CompositeResult:
    """Whether the warning holds at this evaluation, and why (one sentence)."""

    active: bool
    severity: str
    reason: str
    drifted: tuple[str, ...]
    proxies: tuple[str, ...]        # the proxies that got worse

    def to_record(self) -> dict:
        return {"active": self.active, "severity": self.severity, "reason": self.reason,
                "drifted": list(self.drifted), "proxies": list(self.proxies)}


def names(items: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def composite(rule: WarningSpec, drifted: Sequence[str], metric: MetricEstimate | None,
              rate: RateChange | None, detectors: Sequence[StreamDetector],
              window_start: float) -> CompositeResult:
    """Evaluate the composite rule on one evaluation's findings."""
    worse: list[str] = []
    why: list[str] = []
    if "estimated_metric" in rule.proxies and metric is not None and metric.declined:
        worse.append("estimated_metric")
        why.append(f"the estimated {metric.metric} fell from {metric.reference:.3g} to "
                   f"{metric.estimate:.3g} without labels (by at least {metric.decline_lower:.2g} "
                   f"at {metric.confidence:.0%} confidence)")
    if "flagged_rate" in rule.proxies and rate is not None and rate.changed:
        worse.append("flagged_rate")
        verb = "rose" if rate.current > rate.reference else "fell"
        why.append(f"the flagged rate {verb} from {rate.reference:.3g} to {rate.current:.3g} "
                   f"(p = {rate.p_value:.2g})")
    if "detectors" in rule.proxies:
        fired = [d for d in detectors if d.fired_since(window_start)]
        if fired:
            worse.append("detectors")
            why.append("; ".join(f"{d.kind} saw the {d.stream} stream change at "
                                 f"{rfc3339(d.last_detection)}" for d in fired))
    enough = len(drifted) >= rule.min_drifted
    active = enough and bool(worse)
    if active:
        reason = f"{names(list(drifted))} drifted and " + "; ".join(why)
    elif enough:
        reason = f"{names(list(drifted))} drifted, but no proxy of the metric got worse"
    elif worse:
        reason = "; ".join(why) + ", but no feature drifted beyond its threshold"
    else:
        reason = "no drift and no proxy of the metric got worse"
    return CompositeResult(active, rule.severity, reason, tuple(drifted), tuple(worse))

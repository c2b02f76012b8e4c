"""The alert lifecycle of one SLO key: trigger, escalate, resolve, without flapping.

A key has at most one open alert (an "episode"), identified for PagerDuty by its dedup key. At
each evaluation step the policy receives the rules whose condition holds (slo/rules.py):

- a rule *fires* once its condition has held at every step for its `for` duration;
- the first firing rule opens an episode (``trigger``) at the firing rule's severity; a firing
  rule of a higher severity raises it (``escalate``); severity never steps down within an
  episode (an incident does not quietly become less urgent);
- the episode *resolves* only when, continuously for `resolve_for`: no rule's condition holds
  (firing or pending), the window estimate is at or above objective + hysteresis, and every
  rule that fired at the episode's severity is clear *with margin* (slo/rules.py `clearances`:
  e.g. a burn-rate rule's long window back below its threshold minus the hysteresis). The
  margin is what stops an alert from resolving and re-triggering while the metric hovers at a
  threshold. Insufficient data never resolves an episode: silence is not recovery.

The episode's `alert_id` is derived from the dedup key and the episode's start event time, so a
replay of the same stream produces the same ids.

A *hold* (the whole model's alert, open while one of its segments would trigger) stops an
episode from opening at a severity no higher than the holder's: the step says ``held`` instead
of ``trigger``, and the rule keeps firing, so the segment triggers at the first step without the
hold (one breach, one incident; a segment still bad when the model recovers is paged then).
An episode already open is not held back.

>>> p = AlertPolicy(resolve_for=120)
>>> from slo.rules import Finding
>>> page = Finding("breach", "critical", 0, "too low")
>>> [(e.action, e.severity) for e in p.step(60, [page], False, "k")]
[('trigger', 'critical')]
>>> p.step(120, [], True, "k"), p.step(180, [], True, "k")
([], [])
>>> [e.action for e in p.step(240, [], True, "k")]
['resolve']
>>> _ = p.step(300, [page], False, "k")
>>> p.step(360, [], True, "k", cleared={"breach": False})   # recovered, but not with margin
[]
>>> s = AlertPolicy(resolve_for=120)
>>> [(e.action, e.reason) for e in s.step(60, [page], False, "k/country=DE", hold=("critical", "k"))]
[('held', 'held while k is open at critical')]
>>> [e.action for e in s.step(120, [page], False, "k/country=DE")]     # the hold is gone
['trigger']
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from slo.rules import SEVERITY_RANK, Finding

_NAMESPACE = uuid.UUID("6f1c2a4e-5b0d-4e43-9a57-3c8d2f1e9b10")


def alert_id_for(dedup_key: str, start: float) -> str:
    """Deterministic alert id of the episode of `dedup_key` that started at event time `start`.

    >>> alert_id_for("fraud-precision/fraud-detector", 1.0e9) == alert_id_for(
    ...     "fraud-precision/fraud-detector", 1.0e9)
    True
    """
    return str(uuid.uuid5(_NAMESPACE, f"{dedup_key}@{start!r}"))


@dataclass(slots=True)
class Episode:
    """An open alert."""

    alert_id: str
    start: float
    severity: str
    rule: str
    reason: str
    fired: set[str] = field(default_factory=set)   # rules that fired at the episode's severity


@dataclass(frozen=True, slots=True)
class Transition:
    """A lifecycle change produced by one step."""

    action: str               # trigger | escalate | resolve; held: no alert (a hold stopped a trigger)
    severity: str
    alert_id: str
    episode_start: float
    rule: str
    reason: str


class AlertPolicy:
    """Durations, escalation and hysteresis for one key; plain picklable state."""

    __slots__ = ("resolve_for", "pending_since", "episode", "clear_since")

    def __init__(self, resolve_for: int):
        self.resolve_for = resolve_for
        self.pending_since: dict[str, float] = {}   # rule -> first step of its current streak
        self.episode: Episode | None = None
        self.clear_since: float | None = None

    def step(self, t: float, findings: Sequence[Finding], recovered: bool, dedup_key: str,
             recovery_reason: str = "", cleared: Mapping[str, bool] | None = None,
             hold: tuple[str, str] | None = None) -> list[Transition]:
        """Advance to step time `t` with the rules that hold now.

        `recovered`: the window estimate is known and at or above objective + hysteresis.
        `cleared`: per rule, whether it is clear with margin (missing: clear).
        `hold`: (severity, dedup key) of an open alert that covers this key, or None.
        """
        active = {f.rule for f in findings}
        for rule in [r for r in self.pending_since if r not in active]:
            del self.pending_since[rule]
        firing = []
        for f in findings:
            since = self.pending_since.setdefault(f.rule, t)
            if t - since >= f.for_s:
                firing.append(f)
        out: list[Transition] = []
        episode = self.episode
        if firing:
            self.clear_since = None
            top = max(firing, key=lambda f: SEVERITY_RANK[f.severity])  # first wins ties
            if episode is None and hold is not None and SEVERITY_RANK[top.severity] <= SEVERITY_RANK[hold[0]]:
                return [Transition("held", top.severity, "", t, top.rule,
                                   f"held while {hold[1]} is open at {hold[0]}")]
            if episode is None:
                episode = self.episode = Episode(alert_id_for(dedup_key, t), t, top.severity,
                                                 top.rule, top.reason)
                out.append(Transition("trigger", top.severity, episode.alert_id, t, top.rule,
                                      top.reason))
            elif SEVERITY_RANK[top.severity] > SEVERITY_RANK[episode.severity]:
                episode.severity, episode.rule, episode.reason = top.severity, top.rule, top.reason
                out.append(Transition("escalate", top.severity, episode.alert_id, episode.start,
                                      top.rule, top.reason))
            rank = SEVERITY_RANK[episode.severity]
            episode.fired.update(f.rule for f in firing if SEVERITY_RANK[f.severity] >= rank)
            return out
        if episode is None:
            self.clear_since = None
            return out
        if findings or not recovered or (cleared is not None and not all(
                cleared.get(rule, True) for rule in episode.fired)):
            self.clear_since = None
            return out
        if self.clear_since is None:
            self.clear_since = t
        if t - self.clear_since >= self.resolve_for:
            out.append(Transition("resolve", episode.severity, episode.alert_id, episode.start,
                                  episode.rule, recovery_reason or "recovered"))
            self.episode = None
            self.clear_since = None
        return out

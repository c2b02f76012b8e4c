"""The raise_review_sampling action: review more of a model's predictions for a while, so the
monitor's confidence interval narrows faster while a breach is being judged, then go back to
the baseline.

The monitor stays unbiased: every prediction carries the review_probability it was sampled
with, and the engine weights each label by its inverse (Horvitz-Thompson).

A raise is a record on the compacted ``review-sampling`` topic, keyed by model_id:
``{"model_id", "rate", "expires_at", "reason"}`` plus ``baseline``, ``alert_id``, ``slo``,
``set_at`` and ``ends_by``. When it ends the executor writes a tombstone (the key with no value):
"no override, use your baseline", which compaction keeps until consumers have seen it.

Two clocks, on purpose:

- ``expires_at`` is *event time* (the alert's event time + duration), like every time in the
  contract: whoever samples compares it with its predictions' event time, so a replay or an
  accelerated simulation ends the raise at the same point of the stream;
- the executor writes the tombstone when the first of these happens: a later alert for the model
  is past ``expires_at`` (event time), or the duration has passed on the wall clock since it set
  the raise (``ends_by``): a live service cannot wait for alerts that may never come. The wall
  clock is injected (tests move it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from remediation.action_handler import Applied, Plan, Publish, Skip
from remediation.alert_record import Alert
from remediation.playbook_config import RAISE_REVIEW_SAMPLING, Playbook, SamplingOptions
from slo.durations import format_duration
from schemas.timestamps import format_event_time as rfc3339


@dataclass(frozen=True)
class Raise:
    """A raised review rate in force for one model."""

    model_id: str
    slo: str
    rate: float
    baseline: float
    expires_at: float                # event time (epoch seconds)
    ends_by: float                   # wall clock (epoch seconds)
    alert_id: str
    reason: str
    set_at: float                    # wall clock

    def record(self) -> dict[str, Any]:
        """The review-sampling record (value; the key is model_id)."""
        return {"model_id": self.model_id, "rate": self.rate, "expires_at": rfc3339(self.expires_at),
                "reason": self.reason, "baseline": self.baseline, "alert_id": self.alert_id, "slo": self.slo,
                "set_at": rfc3339(self.set_at), "ends_by": rfc3339(self.ends_by)}

    @classmethod
    def from_record(cls, value: Any) -> Raise | None:
        """A raise read back from the topic (None for records this executor did not write)."""
        if not isinstance(value, dict):
            return None
        try:
            return cls(str(value["model_id"]), str(value.get("slo") or ""), float(value["rate"]),
                       float(value.get("baseline") or 0.0), _epoch(value["expires_at"]), _epoch(value["ends_by"]),
                       str(value.get("alert_id") or ""), str(value.get("reason") or ""), _epoch(value["set_at"]))
        except (KeyError, TypeError, ValueError):
            return None


class SamplingRaises:
    """The raises in force, by model, and when each must end (see the module docstring)."""

    def __init__(self) -> None:
        self._raises: dict[str, Raise] = {}
        self._event_time: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._raises)

    def active(self, model_id: str) -> Raise | None:
        return self._raises.get(model_id)

    def put(self, item: Raise) -> None:
        self._raises[item.model_id] = item

    def remove(self, model_id: str) -> Raise | None:
        return self._raises.pop(model_id, None)

    def observe_event_time(self, model_id: str, t: float) -> None:
        """The monitor's event time for `model_id` reached `t` (from an alert)."""
        if t > self._event_time.get(model_id, float("-inf")):
            self._event_time[model_id] = t

    def due(self, now: float) -> list[tuple[Raise, str]]:
        """Raises to end now, each with the reason."""
        out = []
        for item in self._raises.values():
            seen = self._event_time.get(item.model_id, float("-inf"))
            if seen >= item.expires_at:
                out.append((item, f"event time {rfc3339(seen)} is past expires_at {rfc3339(item.expires_at)}"))
            elif now >= item.ends_by:
                out.append((item, f"wall clock passed {rfc3339(item.ends_by)}, the raise's duration after it was set"))
        return out


class RaiseSamplingHandler:
    """raise_review_sampling: publish the raised rate; `expire` publishes the way back."""

    name = RAISE_REVIEW_SAMPLING

    def __init__(self, raises: SamplingRaises, publish: Publish, topic: str = "review-sampling",
                 clock: Callable[[], float] | None = None):
        import time

        self.raises = raises
        self.publish = publish
        self.topic = topic
        self.clock = clock or time.time

    def plan(self, alert: Alert, playbook: Playbook) -> Plan | Skip:
        options = playbook.options_for(self.name)
        assert isinstance(options, SamplingOptions)
        rate = options.raised_rate
        expires = alert.event_time.timestamp() + options.duration
        current = self.raises.active(alert.model_id)
        if current is not None and current.rate >= rate and current.expires_at >= expires:
            return Skip("already_raised", f"the review rate of {alert.model_id} is already {current.rate:g} until "
                                          f"{rfc3339(current.expires_at)} (alert {current.alert_id})")
        if current is not None:   # extend: keep the higher rate and the later end
            rate, expires = max(rate, current.rate), max(expires, current.expires_at)
        reason = (f"SLO {alert.slo} {alert.severity} alert {alert.alert_id}: review {rate:g} of {alert.model_id}'s "
                  f"predictions (baseline {options.baseline:g}) for {format_duration(options.duration)}")
        now = self.clock()
        item = Raise(alert.model_id, alert.slo, rate, options.baseline, expires, now + options.duration,
                     alert.alert_id, reason, now)
        summary = (f"raise the review rate of {alert.model_id} from {options.baseline:g} to {rate:g} until "
                   f"{rfc3339(expires)} (event time)")
        return Plan(summary, {"rate": rate, "baseline": options.baseline, "expires_at": rfc3339(expires),
                              "topic": self.topic, "extends": current.alert_id if current else None}, item)

    def apply(self, alert: Alert, playbook: Playbook, plan: Plan, *, late: bool = False) -> Applied:
        now = self.clock()
        options = playbook.options_for(self.name)
        assert isinstance(options, SamplingOptions)
        item: Raise = replace(plan.payload, set_at=now, ends_by=now + options.duration)
        self.publish(self.topic, item.model_id, item.record())
        self.raises.put(item)
        return Applied(f"review rate of {item.model_id} raised to {item.rate:g} until {rfc3339(item.expires_at)} "
                       f"(event time; by {rfc3339(item.ends_by)} on the wall clock at the latest)",
                       plan.details | {"ends_by": rfc3339(item.ends_by)})

    def expire(self) -> list[tuple[Raise, str]]:
        """End the raises that are due: publish a tombstone for each; returns them with why."""
        ended = self.raises.due(self.clock())
        for item, _why in ended:
            self.publish(self.topic, item.model_id, None)
            self.raises.remove(item.model_id)
        return ended


def _epoch(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()

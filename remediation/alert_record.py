"""The slo-alerts record as the responder reads it (CONTRACT.md, "Monitor output records").

The monitor adds fields over time (metric, objective, burn_rates, top_segments, report_url...),
so every field beyond the contract's is optional and kept as it came: the page shows what the
engine knew without this module having to learn each new field first.

>>> alert = parse_alert(b'{"alert_id": "a1", "dedup_key": "p/m", "action": "trigger",'
...     b' "severity": "critical", "slo": "p", "model_id": "m", "segment": null,'
...     b' "event_time": "2026-11-26T12:00:00Z", "metric": "precision"}')
>>> alert.slo_key, alert.audit_key, alert.extras["metric"]
('p/m', 'p/m', 'precision')
>>> parse_alert(b'{"action": "explode"}')
Traceback (most recent call last):
...
remediation.alert_record.InvalidAlert: alert_id: missing; dedup_key: missing; action: must be one of trigger, escalate, resolve (got 'explode'); ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

ACTIONS = ("trigger", "escalate", "resolve")
SEVERITIES = ("info", "warning", "error", "critical")  # lowest to highest
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

# Fields of the contract; everything else lands in `Alert.extras`.
CONTRACT_FIELDS = (
    "alert_id", "dedup_key", "action", "severity", "slo", "model_id", "segment",
    "model_version", "event_time", "estimate", "lower", "upper", "labels", "reason",
)


class InvalidAlert(ValueError):
    """A record that is not a usable alert; `key` is its best-guess audit key."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class Alert:
    """One lifecycle change of one SLO key, validated."""

    alert_id: str
    dedup_key: str
    action: str                 # trigger | escalate | resolve
    severity: str               # critical | error | warning | info
    slo: str
    model_id: str
    segment: str | None
    event_time: datetime        # time zone aware
    model_version: str | None = None
    estimate: float | None = None
    lower: float | None = None
    upper: float | None = None
    labels: int | None = None
    reason: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def slo_key(self) -> str:
        """``slo/model_id[/segment]``: the Kafka key, and the scope of inhibition."""
        base = f"{self.slo}/{self.model_id}"
        return f"{base}/{self.segment}" if self.segment else base

    @property
    def audit_key(self) -> str:
        """``slo/model_id``: the key of this alert's records on remediation-actions."""
        return f"{self.slo}/{self.model_id}"

    @property
    def signature(self) -> tuple[str, str, str]:
        """What makes two records the same lifecycle change (at-least-once replays repeat it)."""
        return (self.alert_id, self.action, self.severity)

    @property
    def event_time_text(self) -> str:
        """Event time as RFC 3339 in UTC."""
        return self.event_time.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_alert(value: bytes | str | dict[str, Any] | None) -> Alert:
    """Validate one slo-alerts record; raise InvalidAlert naming every problem found."""
    if isinstance(value, dict):
        data = value
    else:
        if value is None:
            raise InvalidAlert("empty record (tombstone)")
        try:
            data = orjson.loads(value)
        except orjson.JSONDecodeError as error:
            raise InvalidAlert(f"not JSON: {error}") from None
        if not isinstance(data, dict):
            raise InvalidAlert(f"not a JSON object but {type(data).__name__}")

    problems: list[str] = []

    def text(name: str, required: bool = True, max_len: int = 1024) -> str | None:
        raw = data.get(name)
        if raw is None:
            if required:
                problems.append(f"{name}: missing")
            return None
        if not isinstance(raw, str) or (required and not raw):
            problems.append(f"{name}: must be a non-empty string (got {raw!r:.60})")
            return None
        if len(raw) > max_len:
            problems.append(f"{name}: longer than {max_len} characters")
            return None
        return raw

    def choice(name: str, allowed: tuple[str, ...]) -> str | None:
        raw = data.get(name)
        if raw not in allowed:
            problems.append(f"{name}: must be one of {', '.join(allowed)} (got {raw!r:.60})")
            return None
        return raw

    def number(name: str) -> float | None:
        raw = data.get(name)
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            problems.append(f"{name}: must be a number or null (got {raw!r:.60})")
            return None
        return float(raw)

    alert_id = text("alert_id", max_len=256)
    dedup_key = text("dedup_key")
    action = choice("action", ACTIONS)
    severity = choice("severity", SEVERITIES)
    slo = text("slo", max_len=256)
    model_id = text("model_id", max_len=256)
    segment = text("segment", required=False, max_len=512)
    model_version = data.get("model_version")
    if model_version is not None and not isinstance(model_version, (str, int)):
        problems.append(f"model_version: must be a string or null (got {model_version!r:.60})")
        model_version = None
    event_time = _event_time(data.get("event_time"), problems)
    estimate, lower, upper = number("estimate"), number("lower"), number("upper")
    labels = data.get("labels")
    if labels is not None and (isinstance(labels, bool) or not isinstance(labels, int)):
        problems.append(f"labels: must be a whole number or null (got {labels!r:.60})")
        labels = None
    reason = data.get("reason")
    if reason is not None and not isinstance(reason, str):
        reason = str(reason)

    if problems:
        key = f"{slo}/{model_id}" if slo and model_id else None
        raise InvalidAlert("; ".join(problems), key)
    assert alert_id and dedup_key and action and severity and slo and model_id and event_time
    return Alert(
        alert_id=alert_id, dedup_key=dedup_key, action=action, severity=severity, slo=slo,
        model_id=model_id, segment=segment or None, event_time=event_time,
        model_version=None if model_version is None else str(model_version),
        estimate=estimate, lower=lower, upper=upper, labels=labels, reason=reason,
        extras={k: v for k, v in data.items() if k not in CONTRACT_FIELDS},
    )


def _event_time(raw: Any, problems: list[str]) -> datetime | None:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return datetime.fromtimestamp(float(raw), tz=UTC)
    if not isinstance(raw, str) or len(raw) > 40:
        problems.append(f"event_time: must be an RFC 3339 string (got {raw!r:.60})")
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        problems.append(f"event_time: not RFC 3339 (got {raw!r:.60})")
        return None
    if parsed.tzinfo is None:
        problems.append("event_time: has no time zone offset")
        return None
    return parsed

"""Human-friendly durations ("30s", "5m", "1h30m", "3d") and RFC 3339 times for the simulator.

The simulator's options and scenario offsets are written by people (`--change-at 12h`), so they
need a tiny, forgiving parser. The SLO engine has its own in `slo/`; the two will be unified later.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h|d|w)")


def parse_duration(text: str | float | int) -> float:
    """Seconds in a duration such as "90", "30s", "5m", "1.5h", "1h30m", "3d" or "2w".

    A bare number is seconds. Raises ValueError on anything else (including negatives).

    >>> parse_duration("1h30m")
    5400.0
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if text < 0:
            raise ValueError(f"duration must not be negative: {text!r}")
        return float(text)
    s = str(text).strip().lower().replace(" ", "")
    if not s:
        raise ValueError("empty duration")
    try:
        value = float(s)
    except ValueError:
        pass
    else:
        if value < 0 or value != value:
            raise ValueError(f"duration must be a non-negative number: {text!r}")
        return value
    total, pos = 0.0, 0
    for match in _PART.finditer(s):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(s):
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 5m, 1h30m, 3d)")
    return total


def format_duration(seconds: float) -> str:
    """Compact, readable form of a duration, e.g. 5400 -> "1h30m"; sub-second parts as ms."""
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    whole = int(seconds)
    frac = seconds - whole
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole >= size:
            parts.append(f"{whole // size}{unit}")
            whole %= size
    if whole or frac or not parts:
        parts.append(f"{whole + frac:g}s")
    return "".join(parts)


def parse_time(text: str | float | int) -> float:
    """Epoch seconds from an RFC 3339 string ("2025-01-06T00:00:00Z") or an epoch number.

    A time without an offset is taken as UTC, so replays do not depend on the local zone.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    s = str(text).strip()
    try:
        return float(s)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(s.replace("z", "Z"))
    except ValueError as exc:
        raise ValueError(f"not an RFC 3339 time: {text!r}") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def format_time(epoch_seconds: float) -> str:
    """RFC 3339 in UTC with millisecond precision and a 'Z', e.g. 2025-01-06T00:00:00.000Z."""
    dt = datetime.fromtimestamp(round(epoch_seconds, 3), tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"

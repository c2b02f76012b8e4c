"""Event-time parsing: RFC 3339 strings or epoch seconds, to float epoch seconds.

Every window in slo-monitor runs on event time taken from the messages, so a timestamp that
cannot be read exactly (no time zone, NaN, year 40000) is rejected rather than guessed.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

# Accept event times between 2000-01-01 and 2100-01-01: anything outside is a unit mistake
# (milliseconds sent as seconds) or garbage, and would poison every window it touched.
EARLIEST = 946_684_800.0
LATEST = 4_102_444_800.0


def parse_event_time(value: object) -> float:
    """Return epoch seconds for an RFC 3339 string or a number of epoch seconds.

    >>> parse_event_time("2026-11-26T12:00:00Z")
    1795694400.0
    >>> parse_event_time(1795694400)
    1795694400.0
    >>> parse_event_time("2026-11-26T12:00:00")
    Traceback (most recent call last):
    ...
    ValueError: timestamp has no time zone offset (RFC 3339 needs 'Z' or '+hh:mm')
    """
    if isinstance(value, bool):
        raise ValueError("timestamp must be an RFC 3339 string or epoch seconds, not a boolean")
    if isinstance(value, (int, float)):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise ValueError("timestamp must be a finite number of epoch seconds")
    elif isinstance(value, str):
        seconds = _parse_rfc3339(value)
    else:
        raise ValueError("timestamp must be an RFC 3339 string or epoch seconds")
    if not EARLIEST <= seconds < LATEST:
        raise ValueError(
            f"timestamp {value!r} is outside 2000-01-01..2100-01-01 (milliseconds sent as seconds?)"
        )
    return seconds


def _parse_rfc3339(text: str) -> float:
    if len(text) > 40:
        raise ValueError("timestamp string is too long for RFC 3339")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"timestamp {text!r} is not RFC 3339") from None
    if parsed.tzinfo is None:
        raise ValueError("timestamp has no time zone offset (RFC 3339 needs 'Z' or '+hh:mm')")
    return parsed.timestamp()


def format_event_time(seconds: float) -> str:
    """RFC 3339 in UTC with a 'Z', millisecond precision when there is a fraction.

    >>> format_event_time(1795694400.0)
    '2026-11-26T12:00:00Z'
    >>> format_event_time(1795694400.25)
    '2026-11-26T12:00:00.250Z'
    """
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

"""Event-time parsing: RFC 3339 strings or epoch seconds, to float epoch seconds.

Every window in slo-monitor runs on event time taken from the messages, so a timestamp that
cannot be read exactly (no time zone, NaN, year 40000) is rejected rather than guessed.
"""

from __future__ import annotations

import math
import re
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
    seconds = event_time_or_reason(value)
    if type(seconds) is str:
        raise ValueError(seconds)
    return seconds


def event_time_or_reason(value: object) -> float | str:
    """`parse_event_time` that returns why it cannot, as a str, instead of raising: a flood of
    junk with bad timestamps pays for no exception (~0.5 us each).

    >>> event_time_or_reason("2026-11-26T12:00:00Z"), event_time_or_reason(True)
    (1795694400.0, 'timestamp must be an RFC 3339 string or epoch seconds, not a boolean')
    """
    if type(value) is str:   # the usual case first (a str is neither a bool nor a number)
        seconds = _parse_rfc3339(value)
        if type(seconds) is str:
            return seconds
    elif isinstance(value, bool):
        return "timestamp must be an RFC 3339 string or epoch seconds, not a boolean"
    elif isinstance(value, (int, float)):
        seconds = float(value)
        if not math.isfinite(seconds):
            return "timestamp must be a finite number of epoch seconds"
    elif isinstance(value, str):
        seconds = _parse_rfc3339(value)
        if type(seconds) is str:
            return seconds
    else:
        return "timestamp must be an RFC 3339 string or epoch seconds"
    if not EARLIEST <= seconds < LATEST:
        return f"timestamp {value!r} is outside 2000-01-01..2100-01-01 (milliseconds sent as seconds?)"
    return seconds


def _parse_rfc3339(text: str) -> float | str:
    """Epoch seconds, or the reason the text is not RFC 3339 with an offset."""
    if len(text) > 40:
        return "timestamp string is too long for RFC 3339"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return _parse_rfc3339_variants(text)
    if parsed.tzinfo is None:
        return "timestamp has no time zone offset (RFC 3339 needs 'Z' or '+hh:mm')"
    return parsed.timestamp()


# RFC 3339 section 5.6 with its note: 'T', 't' or a space; 'Z' or 'z' (checked before the
# retry, so upper-casing cannot let in ISO 8601 forms fromisoformat knows and RFC 3339 does not)
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _parse_rfc3339_variants(text: str) -> float | str:
    """What RFC 3339 allows and `datetime.fromisoformat` does not: a lower-case 't' or 'z' (section
    5.6's note) and a leap second, 23:59:60 UTC on a month's last day, read as the first instant
    of the next month (as POSIX time has it).

    >>> _parse_rfc3339_variants("2026-11-26t12:00:00z")
    1795694400.0
    >>> _parse_rfc3339_variants("2016-12-31T23:59:60Z") == parse_event_time("2017-01-01T00:00:00Z")
    True
    >>> _parse_rfc3339_variants("2026-11-26T12:00:60Z")     # not a leap second
    "timestamp '2026-11-26T12:00:60Z' is not RFC 3339"
    """
    reason = f"timestamp {text!r} is not RFC 3339"
    if _RFC3339.fullmatch(text) is None:
        return reason
    fixed = text.upper()
    leap = fixed[17:19] == "60"
    if leap:
        fixed = f"{fixed[:17]}59{fixed[19:]}"
    try:
        parsed = datetime.fromisoformat(fixed)
    except ValueError:
        return reason
    seconds = parsed.timestamp()
    if not leap:
        return seconds
    after = datetime.fromtimestamp(int(seconds) + 1, tz=UTC)
    if (after.day, after.hour, after.minute, after.second) != (1, 0, 0, 0):
        return reason   # a leap second is only ever 23:59:60 UTC at the end of a month
    return float(int(seconds) + 1)


def format_event_time(seconds: float) -> str:
    """RFC 3339 in UTC with a 'Z', millisecond precision when there is a fraction.

    Output records format two times per joined label and one per status, so the text up to the
    minute is cached (one strftime per minute of event time, not per call); the seconds come
    from the same whole second and rounded microsecond `datetime.fromtimestamp` would use.

    >>> format_event_time(1795694400.0)
    '2026-11-26T12:00:00Z'
    >>> format_event_time(1795694400.25)
    '2026-11-26T12:00:00.250Z'
    >>> format_event_time(1795694459.9999996)   # rounds to the next whole second, as datetime does
    '2026-11-26T12:01:00Z'
    """
    if not 0.0 <= seconds < LATEST:   # also NaN: datetime raises for what it cannot represent
        return _format_with_datetime(seconds)
    second = int(seconds)                        # seconds >= 0: the whole part, as math.modf gives it
    micro = round((seconds - second) * 1e6)      # the exact fraction; half to even, like datetime
    if micro >= 1_000_000:
        second, micro = second + 1, micro - 1_000_000
    minute, second = divmod(second, 60)
    prefix = _MINUTE_PREFIXES.get(minute)
    if prefix is None:
        if len(_MINUTE_PREFIXES) >= _MAX_MINUTE_PREFIXES:
            _MINUTE_PREFIXES.clear()
        prefix = _MINUTE_PREFIXES[minute] = datetime.fromtimestamp(minute * 60, tz=UTC).strftime("%Y-%m-%dT%H:%M:")
    return prefix + _SECONDS[second] + _MILLISECONDS[micro // 1000] if micro else prefix + _WHOLE_SECONDS[second]


_MINUTE_PREFIXES: dict[int, str] = {}   # minute since the epoch -> "YYYY-MM-DDTHH:MM:"
_MAX_MINUTE_PREFIXES = 4096
# the rest of the text, looked up rather than formatted (string formatting was half the cost)
_SECONDS = tuple(f"{second:02d}" for second in range(60))
_WHOLE_SECONDS = tuple(f"{second:02d}Z" for second in range(60))
_MILLISECONDS = tuple(f".{milli:03d}Z" for milli in range(1000))


def _format_with_datetime(seconds: float) -> str:
    """`format_event_time` through `datetime` (the reference the fast path is tested against)."""
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

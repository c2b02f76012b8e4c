"""Event-time formatting for output records: epoch seconds to RFC 3339 in UTC.

Only converts times handed in; never reads the clock.

>>> rfc3339(0)
'1970-01-01T00:00:00Z'
>>> rfc3339(1764162300.25)
'2025-11-26T13:05:00.250000Z'
"""

from __future__ import annotations

from datetime import datetime, timezone


def rfc3339(epoch_seconds: float) -> str:
    """RFC 3339 UTC timestamp with a ``Z`` suffix; microseconds only when not whole seconds."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)
    spec = "seconds" if moment.microsecond == 0 else "microseconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"

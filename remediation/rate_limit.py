"""Client-side rate limit and backoff for the Events API.

PagerDuty accepts about 120 events per minute per integration key, counted over a 60-second
window looking back from now; past that it answers 429 and drops the event. Staying under the
limit ourselves keeps pages flowing during an alert storm instead of burning retries on 429s.

>>> limiter = SlidingWindowLimiter(per_minute=2)
>>> limiter.delay("k", now=0.0), limiter.record("k", now=0.0), limiter.record("k", now=1.0)
(0.0, None, None)
>>> limiter.delay("k", now=30.0)
30.0
>>> Backoff(initial=1.0, maximum=5.0).delay(1), Backoff(initial=1.0, maximum=5.0).delay(10)
(1.0, 5.0)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

WINDOW_SECONDS = 60.0


@dataclass
class SlidingWindowLimiter:
    """At most `per_minute` sends per key in any `window` seconds (None: unlimited).

    `window` is 60 as PagerDuty counts; tests shorten it to see the same behaviour sooner."""

    per_minute: int | None = 120
    window: float = WINDOW_SECONDS
    _sent: dict[str, deque[float]] = field(default_factory=dict)

    def delay(self, key: str, now: float) -> float:
        """Seconds to wait before the next send with `key` (0 if it may go now)."""
        if not self.per_minute:
            return 0.0
        sent = self._sent.get(key)
        if sent is None:
            return 0.0
        while sent and sent[0] <= now - self.window:
            sent.popleft()
        if len(sent) < self.per_minute:
            return 0.0
        return sent[0] + self.window - now

    def record(self, key: str, now: float) -> None:
        if self.per_minute:
            self._sent.setdefault(key, deque()).append(now)


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff between delivery attempts of the head event."""

    initial: float = 1.0
    maximum: float = 30.0     # pages resume at most this long after PagerDuty recovers

    def delay(self, attempts: int) -> float:
        """Wait after the `attempts`-th failed attempt (1-based)."""
        return min(self.maximum, self.initial * 2 ** max(0, attempts - 1))

"""A bounded history of one key's status snapshots, for the report's SLO timeline.

At most one point per `step` seconds of event time is kept (the latest of each step, so the
state right before the alert is there), and only the last `horizon` seconds: `horizon / step`
points at most.

>>> tl = Timeline(step=60, horizon=300)
>>> for t in range(0, 1000, 30):
...     tl.add(float(t), 0.9, 0.8, 0.95, "ok", {"1h": 1.0})
>>> len(tl.points), tl.points[0][0], tl.points[-1][0]
(5, 750.0, 990.0)
"""

from __future__ import annotations

from collections import deque
from typing import Any

from schemas.timestamps import format_event_time

Point = tuple[float, float | None, float | None, float | None, str, tuple[float | None, ...]]


class Timeline:
    """Points (time, estimate, lower, upper, state, burn rates) of one status key."""

    __slots__ = ("step", "horizon", "points", "burn_names")

    def __init__(self, step: float, horizon: float):
        self.step = step
        self.horizon = horizon
        self.points: deque[Point] = deque(maxlen=max(2, int(horizon // step)))
        self.burn_names: tuple[str, ...] = ()

    def add(self, t: float, estimate: float | None, lower: float | None, upper: float | None,
            state: str, burn_rates: dict[str, float | None]) -> None:
        if not self.burn_names:
            self.burn_names = tuple(burn_rates)
        point = (t, estimate, lower, upper, state,
                 tuple(burn_rates.get(name) for name in self.burn_names))
        if self.points and t < self.points[-1][0]:
            return                                  # out of order: keep the history monotone
        if self.points and t // self.step == self.points[-1][0] // self.step:
            self.points[-1] = point
        else:
            self.points.append(point)
        while self.points and self.points[0][0] <= t - self.horizon:
            self.points.popleft()

    def to_record(self, until: float | None = None) -> list[dict[str, Any]]:
        """Points up to `until` (event time) as JSON-ready dicts."""
        return [{"t": format_event_time(p[0]), "estimate": p[1], "lower": p[2], "upper": p[3],
                 "state": p[4], "burn_rates": dict(zip(self.burn_names, p[5]))}
                for p in self.points if until is None or p[0] <= until]

    def __getstate__(self):
        return (self.step, self.horizon, tuple(self.points), self.points.maxlen, self.burn_names)

    def __setstate__(self, state) -> None:
        self.step, self.horizon, points, maxlen, self.burn_names = state
        self.points = deque(points, maxlen=maxlen)

"""Maintenance windows: planned work during which an SLO's breaches are not paged.

Windows are compared with the alert's *event time*, like every window in slo-monitor, so a
replayed stream is suppressed exactly as it was live, and the responder's state rebuilt from
slo-alerts after a restart matches what it decided before.

>>> from datetime import datetime, UTC
>>> cal = MaintenanceCalendar([MaintenanceWindow("fraud-precision",
...     datetime(2026, 11, 27, 2, tzinfo=UTC), datetime(2026, 11, 27, 4, tzinfo=UTC), "retraining")])
>>> cal.active("fraud-precision", datetime(2026, 11, 27, 3, tzinfo=UTC)).reason
'retraining'
>>> cal.active("fraud-precision", datetime(2026, 11, 27, 4, tzinfo=UTC)) is None
True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

ALL_SLOS = "*"


@dataclass(frozen=True)
class MaintenanceWindow:
    """[start, end) in event time for one SLO (or ``*`` for all)."""

    slo: str
    start: datetime
    end: datetime
    reason: str = "maintenance"

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError(f"maintenance window for {self.slo}: start and end need a time zone")
        if not self.start < self.end:
            raise ValueError(f"maintenance window for {self.slo}: start must be before end")

    def describe(self) -> str:
        return f"{self.reason} ({self.start.isoformat()} to {self.end.isoformat()})"


class MaintenanceCalendar:
    """All windows; answers "is this SLO under maintenance at this event time?"."""

    def __init__(self, windows: Iterable[MaintenanceWindow] = ()):
        self._by_slo: dict[str, list[MaintenanceWindow]] = {}
        for window in windows:
            self._by_slo.setdefault(window.slo, []).append(window)

    def active(self, slo: str, at: datetime) -> MaintenanceWindow | None:
        for window in [*self._by_slo.get(slo, ()), *self._by_slo.get(ALL_SLOS, ())]:
            if window.start <= at < window.end:
                return window
        return None

    def __len__(self) -> int:
        return sum(len(w) for w in self._by_slo.values())

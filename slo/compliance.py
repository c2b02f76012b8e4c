"""Timeslice compliance over a period (OpenSLO's Timeslices budgeting method).

Each non-overlapping timeslice (by default one SLO window, aligned to the epoch) gets one verdict
when the watermark passes its end: met, missed, or unknown (fewer than min_labels labels: it
counts neither way). Compliance over the period is the share of known slices that met the
objective; the budget is the share of all slices in the period allowed to miss.

>>> c = TimesliceCompliance(period_slices=4, target=0.75)
>>> for i, verdict in enumerate([MET, MISSED, MET, UNKNOWN]):
...     c.record(i, verdict)
>>> s = c.summary(current_slice=4)
>>> s["met"], s["missed"], s["unknown"], round(s["share"], 3), s["budget_remaining"]
(2, 1, 1, 0.667, 0.0)
"""

from __future__ import annotations

from array import array
from typing import Any

UNKNOWN, MET, MISSED = 0, 1, 2


class TimesliceCompliance:
    """The last `period_slices` verdicts in a ring (slice index + verdict byte each)."""

    __slots__ = ("period_slices", "target", "slice_ids", "verdicts", "_cached")

    def __init__(self, period_slices: int, target: float):
        if period_slices < 1:
            raise ValueError("period must hold at least one timeslice")
        self.period_slices = period_slices
        self.target = target
        self.slice_ids = array("q", [-(1 << 62)] * period_slices)
        self.verdicts = bytearray(period_slices)
        self._cached: tuple[int, dict[str, Any]] | None = None

    def record(self, slice_index: int, verdict: int) -> None:
        """Store the verdict of the slice with this index (its end time // timeslice - 1)."""
        pos = slice_index % self.period_slices
        self.slice_ids[pos] = slice_index
        self.verdicts[pos] = verdict
        self._cached = None

    def summary(self, current_slice: int) -> dict[str, Any]:
        """Counts and share over the period's slices before `current_slice`."""
        if self._cached is not None and self._cached[0] == current_slice:
            return self._cached[1]
        oldest = current_slice - self.period_slices
        met = missed = 0
        for sid, verdict in zip(self.slice_ids, self.verdicts):
            if oldest <= sid < current_slice:
                met += verdict == MET
                missed += verdict == MISSED
        known = met + missed
        allowed = (1.0 - self.target) * self.period_slices
        summary = {
            "target": self.target,
            "slices": self.period_slices,
            "met": met,
            "missed": missed,
            "unknown": self.period_slices - known,
            "share": met / known if known else None,
            "budget_remaining": max(0.0, 1.0 - missed / allowed) if allowed > 0 else None,
        }
        self._cached = (current_slice, summary)
        return summary

    def nbytes(self) -> int:
        """Bytes held by the verdict ring."""
        return self.slice_ids.itemsize * len(self.slice_ids) + len(self.verdicts)

"""Per model version: did its windows meet the objective? Remediation needs "the last healthy one".

Labels are summed per (version, timeslice) - by default one SLO window aligned to the epoch -
and each slice gets a verdict once the watermark passes its end: met (estimate at or above the
objective with at least min_labels labels), missed, or unknown. A version's record keeps the
counts of verdicts and the time of its last met and missed slice. Label sums are dropped as soon
as a slice is judged, so memory stays at a few records per version; at most `max_versions`
versions are remembered (the least recently seen goes first).

>>> vh = VersionHealth(timeslice=3600, objective=0.9, min_labels=2, metric="precision")
>>> for v, hit in [("v1", True), ("v1", True), ("v2", False), ("v2", False)]:
...     vh.observe(v, 100.0, 0, hit, True, 1.0, True)
>>> vh.close_before(3600)
>>> vh.last_healthy(), vh.last_healthy(exclude="v1")
('v1', None)
>>> vh.records["v2"].last_verdict
'missed'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slo.defaults import MAX_VERSIONS


@dataclass(slots=True)
class VersionRecord:
    """What is known about one version's health."""

    first_seen: float
    last_seen: float
    met: int = 0
    missed: int = 0
    unknown: int = 0
    last_verdict: str | None = None   # "met" | "missed" (unknown slices do not change it)
    last_met_at: float | None = None  # end of the last slice that met the objective
    last_missed_at: float | None = None
    last_estimate: float | None = None

    def to_record(self) -> dict[str, Any]:
        """Plain dict for output records."""
        return {"first_seen": self.first_seen, "last_seen": self.last_seen, "met": self.met,
                "missed": self.missed, "unknown": self.unknown, "last_verdict": self.last_verdict,
                "last_met_at": self.last_met_at, "last_missed_at": self.last_missed_at,
                "last_estimate": self.last_estimate}


class VersionHealth:
    """Slice verdicts per model version for one SLO key."""

    __slots__ = ("timeslice", "objective", "min_labels", "metric", "max_versions", "records",
                 "open", "closed_before", "dropped_late")

    def __init__(self, timeslice: int, objective: float, min_labels: int, metric: str,
                 max_versions: int = MAX_VERSIONS):
        self.timeslice = timeslice
        self.objective = objective
        self.min_labels = min_labels
        self.metric = metric
        self.max_versions = max_versions
        self.records: dict[str, VersionRecord] = {}
        # (version, slice index) -> [hits, misses, hit_w, miss_w, unflagged]
        self.open: dict[tuple[str, int], list[float]] = {}
        self.closed_before = -(1 << 62)   # slices before this index were judged
        self.dropped_late = 0

    def observe(self, version: str, t: float, slice_index: int, hit: bool, in_population: bool,
                weight: float, unflagged: bool) -> None:
        """Add one label of `version` whose prediction was made at `t` (in slice_index)."""
        record = self.records.get(version)
        if record is None:
            record = self.records[version] = VersionRecord(t, t)
            if len(self.records) > self.max_versions:
                self._forget_oldest()
        elif t > record.last_seen:
            record.last_seen = t
        elif t < record.first_seen:
            record.first_seen = t
        if slice_index < self.closed_before:
            self.dropped_late += 1
            return
        sums = self.open.get((version, slice_index))
        if sums is None:
            sums = self.open[(version, slice_index)] = [0.0, 0.0, 0.0, 0.0, 0.0]
        if in_population:
            if hit:
                sums[0] += 1.0
                sums[2] += weight
            else:
                sums[1] += 1.0
                sums[3] += weight
        if unflagged:
            sums[4] += 1.0

    def close_before(self, t: float) -> None:
        """Judge every open slice that ends at or before event time `t`."""
        limit = int(t // self.timeslice)
        if limit <= self.closed_before:
            return
        for key in sorted(k for k in self.open if k[1] < limit):
            version, index = key
            hits, misses, hit_w, miss_w, unflagged = self.open.pop(key)
            record = self.records.get(version)
            if record is None:
                continue
            end = float((index + 1) * self.timeslice)
            observable = self.metric != "recall" or unflagged > 0
            if hits + misses < self.min_labels or not observable or hit_w + miss_w <= 0:
                record.unknown += 1
                continue
            value = hit_w / (hit_w + miss_w)
            record.last_estimate = value
            if value >= self.objective:
                record.met += 1
                record.last_verdict = "met"
                record.last_met_at = end
            else:
                record.missed += 1
                record.last_verdict = "missed"
                record.last_missed_at = end
        self.closed_before = limit

    def last_healthy(self, exclude: str | None = None) -> str | None:
        """The version most recently seen meeting the objective whose last verdict is still met."""
        best: tuple[float, str] | None = None
        for version, record in self.records.items():
            if version == exclude or record.last_verdict != "met" or record.last_met_at is None:
                continue
            if best is None or (record.last_met_at, version) > best:
                best = (record.last_met_at, version)
        return best[1] if best else None

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per-version records as plain dicts."""
        return {v: r.to_record() for v, r in self.records.items()}

    def _forget_oldest(self) -> None:
        oldest = min(self.records, key=lambda v: (self.records[v].last_seen, v))
        del self.records[oldest]
        for key in [k for k in self.open if k[0] == oldest]:
            del self.open[key]

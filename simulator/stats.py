"""Ground-truth tallies of a run, for the end-of-run summary and for tests.

The generator knows every prediction's true class, so it can report the *realized* precision and
recall (what the monitor should converge to), overall and per phase, version and segment value,
plus what the labels alone would estimate (Horvitz-Thompson weighted by 1/review_probability).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

# Confusion cells are indexed 2*flagged + truth: 0 = TN, 1 = FN, 2 = FP, 3 = TP.
TN, FN, FP, TP = 0, 1, 2, 3


def _zeros() -> np.ndarray:
    return np.zeros(4, dtype=np.int64)


def precision_of(cells: np.ndarray) -> float | None:
    flagged = cells[FP] + cells[TP]
    return float(cells[TP] / flagged) if flagged else None


def recall_of(cells: np.ndarray) -> float | None:
    positives = cells[TP] + cells[FN]
    return float(cells[TP] / positives) if positives else None


@dataclass
class RunStats:
    """Counts accumulated while a generator's events are consumed."""

    phase_edges: list[float] = field(default_factory=list)   # absolute times splitting phases
    predictions: int = 0
    confusion: np.ndarray = field(default_factory=_zeros)
    by_phase: dict[int, np.ndarray] = field(default_factory=lambda: defaultdict(_zeros))
    by_version: dict[str, np.ndarray] = field(default_factory=lambda: defaultdict(_zeros))
    by_segment: dict[tuple[str, str], np.ndarray] = field(default_factory=lambda: defaultdict(_zeros))
    reviewed: int = 0
    labels: int = 0
    labels_positive: int = 0
    labels_dropped: int = 0          # reviewed, but the label would fall after the label tail
    label_weighted: np.ndarray = field(default_factory=lambda: np.zeros(4))  # HT-weighted cells
    first_prediction_time: float | None = None
    last_prediction_time: float | None = None
    last_label_time: float | None = None

    def add_predictions(self, times: np.ndarray, flagged: np.ndarray, truth: np.ndarray,
                        versions: np.ndarray, segments: dict[str, np.ndarray]) -> None:
        """Tally a slice of predictions that were handed out (vectorised)."""
        if len(times) == 0:
            return
        cell = 2 * flagged.astype(np.int64) + truth.astype(np.int64)
        self.predictions += len(times)
        self.confusion += np.bincount(cell, minlength=4)
        phase = np.searchsorted(np.asarray(self.phase_edges), times, side="right")
        for p in np.unique(phase):
            self.by_phase[int(p)] += np.bincount(cell[phase == p], minlength=4)
        for v in np.unique(versions):
            self.by_version[str(v)] += np.bincount(cell[versions == v], minlength=4)
        for key, values in segments.items():
            for v in np.unique(values):
                self.by_segment[(key, str(v))] += np.bincount(cell[values == v], minlength=4)
        if self.first_prediction_time is None:
            self.first_prediction_time = float(times[0])
        self.last_prediction_time = float(times[-1])

    @property
    def precision(self) -> float | None:
        """Realized precision over all predictions (ground truth, not just reviewed ones)."""
        return precision_of(self.confusion)

    @property
    def recall(self) -> float | None:
        return recall_of(self.confusion)

    @property
    def flagged(self) -> int:
        return int(self.confusion[FP] + self.confusion[TP])

    @property
    def estimated_precision(self) -> float | None:
        """What the labels alone estimate, weighting each by 1/review_probability."""
        return precision_of(self.label_weighted)

    @property
    def estimated_recall(self) -> float | None:
        return recall_of(self.label_weighted)

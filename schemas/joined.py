"""The record the join emits and the SLO engine consumes: one label matched to its prediction.

It carries only what the engine and diagnostics need, so join state and the joined topic stay
small. Times are epoch seconds (float) in event time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ClassLabel = bool | int | str


@dataclass(frozen=True, slots=True)
class JoinedRecord:
    prediction_id: str
    model_id: str
    model_version: str | None
    predicted_at: float          # the prediction's event time: windows bucket on this
    labeled_at: float            # the label's event time (review time)
    predicted_label: ClassLabel
    label: ClassLabel
    review_probability: float    # in (0, 1]; Horvitz-Thompson weight is its inverse
    score: float | None = None
    segment: dict[str, str] = field(default_factory=dict)
    reviewer: str | None = None

    @property
    def weight(self) -> float:
        """Horvitz-Thompson weight: how many predictions this reviewed one stands for."""
        return 1.0 / self.review_probability

    @property
    def label_delay(self) -> float:
        """Seconds from prediction to review (negative if the producers' clocks disagree)."""
        return self.labeled_at - self.predicted_at

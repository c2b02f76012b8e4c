"""The reference: what "normal" looked like, per model. Two kinds (docs/drift.md):

- fixed: a declared period ``[start, end)``, or the first `first` seconds of traffic after the
  first prediction seen. Predictions of that period are summarised in one bucket (a sample of
  `reference_sample_size` rows plus exact counts); labels of those predictions keep counting
  whenever they arrive. Ready once the watermark has passed the end. It never moves: drift is
  always measured against the same baseline (right after a deliberate change, start a new one).
- trailing: the `window` of traffic that ends where the current window starts, kept in buckets
  of `bucket` seconds (default window / 30), so it follows slow seasonal change and reports
  only changes faster than the window. Ready as soon as it holds `min_samples` predictions.

Both answer `bucket_at(t, prediction)` (where to add a prediction, or a label of a prediction,
of event time t; None if it is not part of the reference) and
`window(current_start, watermark, columns)` (the merged reference with `columns` row columns,
or None while it is not ready). Both are plain picklable objects.

>>> from slo.drift.config import ReferenceSpec
>>> ref = make_reference(ReferenceSpec(kind="fixed", first="2h"), sample_size=100,
...                      score_bins=10)
>>> ref.bucket_at(7200.0) is not None, ref.bucket_at(7200.0 + 7200) is None
(True, True)
>>> ref.window(current_start=9000.0, watermark=9000.0, columns=1) is None   # baseline not over yet
True
>>> ref.describe()
{'kind': 'fixed', 'start': 7200.0, 'end': 14400.0}
"""

from __future__ import annotations

import math
from typing import Any

from slo.drift.config import ReferenceSpec
from slo.drift.window import Bucket, BucketRing, WindowData, merge


class FixedReference:
    """A baseline period that never moves (see the module docstring)."""

    kind = "fixed"

    def __init__(self, spec: ReferenceSpec, sample_size: int, score_bins: int):
        self.start: float | None = spec.start
        self.end: float | None = spec.end
        self.first = spec.first
        self.sample_size = sample_size
        self.score_bins = score_bins
        self.bucket = Bucket(sample_size, score_bins)

    def bucket_at(self, t: float, prediction: bool = True) -> Bucket | None:
        if self.start is None:          # "the first N hours": starts with the first prediction
            if not prediction:
                return None
            self.start, self.end = t, t + self.first
        return self.bucket if self.start <= t < self.end else None

    def window(self, current_start: float, watermark: float, columns: int) -> WindowData | None:
        if self.end is None or watermark < self.end:
            return None
        return merge([self.bucket], self.start, self.end, columns, self.score_bins,
                     self.sample_size)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "start": self.start, "end": self.end}


class TrailingReference:
    """The `window` before the current window, in buckets (see the module docstring)."""

    kind = "trailing"

    def __init__(self, spec: ReferenceSpec, sample_size: int, score_bins: int,
                 current_window: int = 0, ahead: int = 0, min_predictions: int = 1):
        assert spec.window is not None
        self.length = spec.window
        self.width = spec.bucket_seconds
        count = self.length // self.width
        per_bucket = max(16, math.ceil(1.5 * sample_size / count))
        capacity = count + math.ceil((current_window + ahead) / self.width) + 2
        self.ring = BucketRing(self.width, capacity, per_bucket, score_bins)
        self.sample_size = sample_size
        self.min_predictions = min_predictions
        self.start: float | None = None
        self.end: float | None = None

    def bucket_at(self, t: float, prediction: bool = True) -> Bucket | None:
        return self.ring.bucket_at(t)

    def window(self, current_start: float, watermark: float, columns: int) -> WindowData | None:
        stop = int(current_start // self.width)          # ends where the current window starts
        first = stop - self.length // self.width
        self.ring.evict_before(first)
        data = self.ring.window(first, stop, columns, self.sample_size)
        self.start, self.end = data.start, data.end
        return data if data.n >= self.min_predictions else None

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "start": self.start, "end": self.end, "window": self.length}


Reference = FixedReference | TrailingReference


def make_reference(spec: ReferenceSpec, sample_size: int, score_bins: int,
                   current_window: int = 0, ahead: int = 0, min_predictions: int = 1) -> Reference:
    """The reference a `ReferenceSpec` describes.

    `current_window` and `ahead` (seconds) size a trailing reference's ring so it also holds the
    current window and events running ahead of the watermark.
    """
    if spec.kind == "fixed":
        return FixedReference(spec, sample_size, score_bins)
    return TrailingReference(spec, sample_size, score_bins, current_window, ahead,
                             min_predictions)

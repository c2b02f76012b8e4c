"""Event-time buckets in a ring: O(1) updates per label, window sums on demand.

Every label is added to the bucket of its *prediction's* event time (so a late label updates the
past it belongs to) as a handful of float additions into one flat ``array('d')``: compact,
picklable, and cheap to index from Python. Window sums are taken in bulk with numpy when the
watermark advances, never per label.

The ring keeps buckets ``[lo, lo + size)``. Evaluating the step that ends at bucket ``g`` (the
window ``[g - span, g)``) moves ``lo`` to ``g - span``; the freed slots are zeroed and reused for
the future. A label older than ``lo`` can no longer change any window still to be evaluated and is
dropped (counted); one at or beyond ``lo + size`` is too far ahead of the watermark (bad clock,
stalled watermark) and is dropped (counted) rather than wiping the ring. Before the first step
the ring slides either way to follow the data, as long as it holds all of it.

>>> ring = BucketRing(width=60, span=3, ahead=2)
>>> base = ring.slot(1000 // 60)
>>> ring.data[base + LABELS] += 1
>>> ring.rows_before(17, 3)[:, LABELS].tolist()    # buckets 14, 15, 16 (t=1000 is in 16)
[0.0, 0.0, 1.0]
"""

from __future__ import annotations

from array import array

import numpy as np

# Field order of one bucket.
LABELS, HITS, HIT_W, MISSES, MISS_W, HIT_W2, MISS_W2, UNFLAGGED, PREDICTIONS, UNFLAGGED_W = range(10)
FIELDS = 10
_FIELDS_BEFORE_UNFLAGGED_W = 9   # rings pickled before 2026-11-27 (widened on load)
_BLANK = array("d", bytes(8 * FIELDS))


class BucketRing:
    """A ring of `span + ahead` buckets of `width` seconds, FIELDS floats each."""

    __slots__ = ("width", "span", "size", "data", "lo", "min_bucket", "max_bucket", "advanced",
                 "dropped_late", "dropped_ahead")

    def __init__(self, width: int, span: int, ahead: int):
        if width <= 0 or span <= 0 or ahead < 0:
            raise ValueError("width and span must be positive, ahead not negative")
        self.width = width
        self.span = span                    # longest window, in buckets
        self.size = span + ahead
        self.data = array("d", bytes(8 * FIELDS * self.size))
        self.lo: int | None = None          # oldest bucket kept (None until the first record)
        self.min_bucket: int | None = None  # oldest bucket that ever received anything
        self.max_bucket: int | None = None  # newest bucket that received anything
        self.advanced = False               # True once a step was evaluated
        self.dropped_late = 0
        self.dropped_ahead = 0

    def bucket_of(self, t: float) -> int:
        """Index of the bucket holding event time `t` (epoch seconds)."""
        return int(t // self.width)

    def slot(self, k: int) -> int:
        """Offset in `data` of bucket `k`, or -1 if it is outside the ring (then counted)."""
        lo = self.lo
        if lo is None:
            # first data: keep `span` buckets of history behind it, `ahead` in front
            lo = self.lo = k - self.span
        elif k < lo:
            if self.advanced or (self.max_bucket is not None and self.max_bucket - k >= self.size):
                self.dropped_late += 1
                return -1
            self.lo = lo = k   # before the first step the ring may still slide back
        elif k >= lo + self.size:
            new_lo = k - self.size + 1
            if self.advanced or (self.min_bucket is not None and self.min_bucket < new_lo):
                self.dropped_ahead += 1
                return -1
            self.lo = new_lo   # before the first step, slide forward over empty buckets
        if self.max_bucket is None or k > self.max_bucket:
            self.max_bucket = k
        if self.min_bucket is None or k < self.min_bucket:
            self.min_bucket = k
        return (k % self.size) * FIELDS

    def advance(self, g: int) -> None:
        """Prepare for evaluating the step ending at bucket `g`: free buckets before g - span."""
        self.advanced = True
        new_lo = g - self.span
        lo = self.lo
        if lo is None:
            self.lo = new_lo
            return
        if new_lo <= lo:
            return
        count = min(new_lo - lo, self.size)
        if count <= 4:
            data, blank = self.data, _BLANK
            for k in range(lo, lo + count):
                base = (k % self.size) * FIELDS
                data[base:base + FIELDS] = blank
        elif count == self.size:
            self.view()[:] = 0.0
        else:
            self.view()[np.arange(lo, lo + count) % self.size] = 0.0
        self.lo = new_lo

    def view(self) -> np.ndarray:
        """The ring as a (size, FIELDS) numpy view sharing memory with `data`."""
        return np.frombuffer(self.data, dtype=np.float64).reshape(self.size, FIELDS)

    def rows_before(self, g: int, count: int) -> np.ndarray:
        """The `count` buckets ``[g - count, g)``, oldest first; zeros outside the ring.

        A read-only view when the range is contiguous in the ring, else a copy.
        """
        lo = self.lo
        start, stop = g - count, g
        if lo is not None and start >= lo and stop <= lo + self.size:
            a, b = start % self.size, (stop - 1) % self.size + 1
            view = self.view()
            if a < b:
                return view[a:b]
            return np.concatenate((view[a:], view[:b]))
        out = np.zeros((count, FIELDS))
        if lo is None:
            return out
        start, stop = max(start, lo), min(stop, lo + self.size)
        if stop > start:
            out[start - (g - count): stop - (g - count)] = self.view()[np.arange(start, stop) % self.size]
        return out

    def history(self, g: int) -> int:
        """Seconds of event time covered by data up to bucket `g` (0 before any data)."""
        return 0 if self.min_bucket is None else max(0, g - self.min_bucket) * self.width

    def is_empty_before(self, g: int) -> bool:
        """True if no bucket at or after ``g - span`` ever received data."""
        return self.max_bucket is None or self.max_bucket < g - self.span

    def __setstate__(self, state) -> None:
        _, slots = state if isinstance(state, tuple) else (None, state)
        for name, value in slots.items():
            object.__setattr__(self, name, value)
        fields = len(self.data) // self.size
        if fields not in (FIELDS, _FIELDS_BEFORE_UNFLAGGED_W):
            raise ValueError(f"a bucket ring of {fields} fields per bucket (this version keeps {FIELDS})")
        if fields == _FIELDS_BEFORE_UNFLAGGED_W:
            # the weights of unflagged labels were not kept: count them at weight 1 until those
            # buckets leave the longest window. They stand in for a missing false negative's
            # weight: until then a recall SLO's lower bound is too high and its CUSUMs judge
            # labels as if misses weighed what hits do (slow to move, never to page falsely)
            old = np.frombuffer(self.data, dtype=np.float64).reshape(self.size, fields)
            wide = np.zeros((self.size, FIELDS))
            wide[:, :fields] = old
            wide[:, UNFLAGGED_W] = old[:, UNFLAGGED]
            self.data = array("d", wide.tobytes())

    def nbytes(self) -> int:
        """Bytes held by the bucket array."""
        return self.data.itemsize * len(self.data)

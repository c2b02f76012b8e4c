"""Bounded per-time-bucket summaries of predictions and labels, and their merge into a window.

A `Bucket` holds one slice of event time (by the prediction's time):

- counts of predictions and of flagged ones (exact);
- a score histogram per flagged group (exact; `score_bins` equal bins on [0, 1] plus one for
  "no score"): what the label-free estimate needs;
- label sums per (flagged group, score bin): counts and Horvitz-Thompson weights of positive and
  negative labels, and squared weights. The reference needs them per score bin (calibration);
  the current window only per group (the realized metric), so its buckets keep one "bin"
  (`label_bins=1`), which keeps them small;
- a `PrioritySample` of rows (score and features) for the tests that need values (KS, PSI).

`PrioritySample` is a bottom-k sample: each prediction gets a uniform random priority, and a
bucket keeps the rows whose priority is below its threshold `tau` (the k smallest seen, lowered
as more arrive). Merging buckets is then exact: the rows of all buckets with priority below the
smallest `tau` are a uniform sample of the whole window, however unequal the buckets' traffic.
Memory per bucket is bounded by k rows (plus a quarter of slack, so trimming is amortised O(1)).

>>> s = PrioritySample(k=2)
>>> for p, x in [(0.5, 1.0), (0.2, 2.0), (0.9, 3.0), (0.1, 4.0), (0.3, 5.0), (0.05, 6.0)]:
...     s.add(p, [x])
>>> s.trim(); s.tau, sorted(s.rows()[1][:, 0].tolist())
(0.2, [4.0, 6.0])
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from slo.estimators import WindowCounts

# label sums per (group, score bin): the order of the last axis of Bucket.labels
N_POS, N_NEG, W_POS, W_NEG, W2_POS, W2_NEG = range(6)
LABEL_FIELDS = 6
UNFLAGGED, FLAGGED = 0, 1   # the first axis of label cells: the prediction's flagged group
NAN = float("nan")


class PrioritySample:
    """Rows with the smallest priorities seen (bottom-k); see the module docstring."""

    __slots__ = ("k", "tau", "prio", "cols")

    def __init__(self, k: int):
        self.k = k
        self.tau = 1.0                     # every row with priority < tau seen so far is kept
        self.prio = array("d")
        self.cols: list[array] = []        # float32 columns (values need no more precision)

    def admits(self, priority: float) -> bool:
        return priority < self.tau

    def add(self, priority: float, row: Sequence[float]) -> None:
        """Keep `row` (call only when `admits(priority)`); columns may grow over time."""
        n = len(self.prio)
        while len(self.cols) < len(row):
            self.cols.append(array("f", [NAN]) * n)
        self.prio.append(priority)
        for col, value in zip(self.cols, row):
            col.append(value)
        for col in self.cols[len(row):]:
            col.append(NAN)
        if n + 1 >= self.k + max(self.k // 4, 16):
            self.trim()

    def trim(self) -> None:
        """Keep the k smallest priorities; tau becomes the smallest one dropped."""
        if len(self.prio) <= self.k:
            return
        p = np.frombuffer(self.prio, dtype=np.float64)
        order = np.argpartition(p, self.k)
        keep = np.sort(order[: self.k])
        self.tau = float(p[order[self.k]])
        self.prio = _array("d", p[keep])
        self.cols = [_array("f", np.frombuffer(c, dtype=np.float32)[keep]) for c in self.cols]

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """(priorities, values as an n x columns float64 matrix)."""
        p = np.frombuffer(self.prio, dtype=np.float64)
        if not self.cols:
            return p, np.empty((len(p), 0))
        return p, np.column_stack([np.frombuffer(c, dtype=np.float32) for c in self.cols]
                                  ).astype(np.float64)

    def __len__(self) -> int:
        return len(self.prio)

    def __getstate__(self):
        return (self.k, self.tau, self.prio, self.cols)

    def __setstate__(self, state) -> None:
        self.k, self.tau, self.prio, self.cols = state


def _array(code: str, values: np.ndarray) -> array:
    out = array(code)
    out.frombytes(np.ascontiguousarray(values, dtype=np.float64 if code == "d" else np.float32)
                  .tobytes())
    return out


class Bucket:
    """Everything kept about the predictions (and their labels) of one slice of event time."""

    __slots__ = ("n", "flagged", "sample", "hist", "labels")

    def __init__(self, k: int, score_bins: int, label_bins: int | None = None):
        self.n = 0
        self.flagged = 0
        self.sample = PrioritySample(k)
        self.hist = np.zeros((2, score_bins + 1), dtype=np.int64)
        # label sums, per score bin (label_bins = score_bins + 1, the default) or pooled (1)
        self.labels = np.zeros((2, label_bins or score_bins + 1, LABEL_FIELDS))

    def add_label(self, group: int, score_bin: int, positive: bool, weight: float) -> None:
        add_label_cell(self.labels[group, score_bin if self.labels.shape[1] > 1 else 0], positive, weight)

    def __getstate__(self):
        return (self.n, self.flagged, self.sample, self.hist, self.labels)

    def __setstate__(self, state) -> None:
        self.n, self.flagged, self.sample, self.hist, self.labels = state


@dataclass(frozen=True)
class WindowData:
    """Merged buckets of one window: counts, histograms, label sums and a uniform sample."""

    start: float
    end: float
    n: int
    flagged: int
    hist: np.ndarray          # (2, score_bins + 1) predictions by (flagged group, score bin)
    labels: np.ndarray        # (2, score_bins + 1 or 1, LABEL_FIELDS) label sums
    sample: np.ndarray        # (rows, columns) float64, NaN where missing

    @property
    def sample_size(self) -> int:
        return int(self.sample.shape[0])


def merge(buckets: Iterable[Bucket], start: float, end: float, columns: int, score_bins: int,
          cap: int, label_bins: int | None = None) -> WindowData:
    """One window from its buckets; the sample is uniform over the window, at most `cap` rows."""
    buckets = list(buckets)
    hist = np.zeros((2, score_bins + 1), dtype=np.int64)
    labels = np.zeros((2, label_bins or score_bins + 1, LABEL_FIELDS))
    n = flagged = 0
    for b in buckets:
        n += b.n
        flagged += b.flagged
        hist += b.hist
        labels += b.labels
    sampled = [b.sample for b in buckets if len(b.sample)]
    if not sampled:
        return WindowData(start, end, n, flagged, hist, labels, np.empty((0, columns)))
    tau = min(s.tau for s in sampled)
    prios, blocks = [], []
    for s in sampled:
        p, rows = s.rows()
        keep = p < tau
        block = np.full((int(keep.sum()), columns), np.nan)
        block[:, : rows.shape[1]] = rows[keep][:, :columns]
        prios.append(p[keep])
        blocks.append(block)
    p = np.concatenate(prios)
    rows = np.concatenate(blocks)
    if len(p) > cap:
        rows = rows[np.argpartition(p, cap)[:cap]]
    return WindowData(start, end, n, flagged, hist, labels, rows)


class BucketRing:
    """Buckets of `width` seconds by index; at most `capacity` of them (oldest evicted first).

    `floor` (set with `evict_before`) is the oldest bucket still accepted; earlier events are
    dropped and counted, as are events beyond `ceiling` when one is set.
    """

    __slots__ = ("width", "capacity", "k", "score_bins", "label_bins", "buckets", "floor",
                 "dropped")

    def __init__(self, width: int, capacity: int, k: int, score_bins: int,
                 label_bins: int | None = None):
        self.width = width
        self.capacity = capacity
        self.k = k
        self.score_bins = score_bins
        self.label_bins = label_bins
        self.buckets: dict[int, Bucket] = {}
        self.floor: int | None = None
        self.dropped = 0

    def bucket_at(self, t: float, ceiling: float | None = None) -> Bucket | None:
        """The bucket of event time `t`, created if new; None (and counted) if out of range."""
        i = int(t // self.width)
        bucket = self.buckets.get(i)
        if bucket is not None:
            return bucket
        if (self.floor is not None and i < self.floor) or (ceiling is not None and t >= ceiling):
            self.dropped += 1
            return None
        if len(self.buckets) >= self.capacity:
            oldest = min(self.buckets)
            if i < oldest:
                self.dropped += 1
                return None
            del self.buckets[oldest]
        bucket = self.buckets[i] = Bucket(self.k, self.score_bins, self.label_bins)
        return bucket

    def evict_before(self, index: int) -> None:
        """Forget buckets before `index` and refuse events older than it from now on."""
        self.floor = index if self.floor is None else max(self.floor, index)
        for i in [i for i in self.buckets if i < self.floor]:
            del self.buckets[i]

    def window(self, first: int, stop: int, columns: int, cap: int) -> WindowData:
        """Buckets first <= i < stop merged (times [first * width, stop * width))."""
        chosen = (b for i, b in sorted(self.buckets.items()) if first <= i < stop)
        return merge(chosen, first * self.width, stop * self.width, columns, self.score_bins, cap,
                     self.label_bins)

    def __getstate__(self):
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state) -> None:
        for name, value in state.items():
            setattr(self, name, value)


def add_label_cell(cell: np.ndarray, positive: bool, weight: float) -> None:
    """Add one label of Horvitz-Thompson weight `weight` to a cell of label sums
    (count, weight and squared weight of positives and of negatives)."""
    if positive:
        cell[N_POS] += 1.0
        cell[W_POS] += weight
        cell[W2_POS] += weight * weight
    else:
        cell[N_NEG] += 1.0
        cell[W_NEG] += weight
        cell[W2_NEG] += weight * weight


def label_counts(cells: np.ndarray, metric: str) -> WindowCounts:
    """Label cells, (2, fields) or (2, bins, fields), as the SLO engine's WindowCounts of `metric`.

    >>> cells = np.zeros((2, LABEL_FIELDS)); cells[FLAGGED] = [90, 10, 90, 10, 90, 10]
    >>> c = label_counts(cells, "precision"); c.hits, c.misses, c.labels
    (90, 10, 100)
    """
    g = np.asarray(cells, dtype=float).reshape(2, -1, LABEL_FIELDS).sum(axis=1)
    every = int(g[:, N_POS].sum() + g[:, N_NEG].sum())
    unflagged = int(g[UNFLAGGED, N_POS] + g[UNFLAGGED, N_NEG])
    if metric == "precision":
        miss_row, miss_n, miss_w, miss_w2 = FLAGGED, N_NEG, W_NEG, W2_NEG
    else:
        miss_row, miss_n, miss_w, miss_w2 = UNFLAGGED, N_POS, W_POS, W2_POS
    return WindowCounts(
        labels=every, hits=int(g[FLAGGED, N_POS]), misses=int(g[miss_row, miss_n]),
        hit_weight=float(g[FLAGGED, W_POS]), miss_weight=float(g[miss_row, miss_w]),
        hit_weight_sq=float(g[FLAGGED, W2_POS]), miss_weight_sq=float(g[miss_row, miss_w2]),
        unflagged=unflagged, unflagged_weight=float(g[UNFLAGGED, W_POS] + g[UNFLAGGED, W_NEG]))

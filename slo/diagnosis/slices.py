"""Per-time-slice state of the diagnostic sketch, and the merge of slices into a period.

A `Slice` holds one stretch of prediction event time (`width` seconds), bounded whatever the
traffic:

- `all`: a drift `Bucket` (slo/drift/window.py) of every prediction: counts, score histogram
  by flagged group, the confusion matrix of its labels (HT weights) and a bottom-k sample of
  rows (score and features) for the drift and upstream tests;
- `flagged`: the same for flagged predictions only (its sample feeds "drift of flagged
  predictions");
- `groups`: per dimension (``segment:<key>``, ``version``, ``reviewer``) a `GroupTable` of label
  cells per value (at most `max_values` values; later ones share ``__other__``);
- `delays`: a histogram of label delays (seconds from prediction to review) on `DELAY_EDGES`.

Label cells use the drift layout, per flagged group (0 = not flagged, 1 = flagged):
N_POS, N_NEG, W_POS, W_NEG, W2_POS, W2_NEG (counts, HT weights, squared weights).

>>> t = GroupTable(max_values=2)
>>> for v in ("a", "b", "c"):
...     t.add_label(v, group=1, positive=True, weight=2.0)
>>> t.names(), t.cells[:, 1, 2].tolist()
(['a', '__other__'], [2.0, 4.0])
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from slo.drift.features import OTHER
from slo.drift.window import LABEL_FIELDS, Bucket, add_label_cell

# label-delay histogram bin edges, in seconds (the last bin is open)
DELAY_EDGES: tuple[float, ...] = (10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)
EXTRA = 3   # GroupTable.extra columns: predictions, flagged, sum of label delays


class GroupTable:
    """Label cells (and prediction counts) per value of one dimension, at most `max_values`."""

    __slots__ = ("index", "cells", "extra", "max_values")

    def __init__(self, max_values: int = 32):
        self.index: dict[str, int] = {}
        self.cells = np.zeros((0, 2, LABEL_FIELDS))
        self.extra = np.zeros((0, EXTRA))
        self.max_values = max_values

    def row(self, value: str) -> int:
        i = self.index.get(value)
        if i is None:
            if len(self.index) >= self.max_values - 1 and value != OTHER:
                return self.row(OTHER)
            i = self.index[value] = len(self.index)
            self.cells = np.concatenate([self.cells, np.zeros((1, 2, LABEL_FIELDS))])
            self.extra = np.concatenate([self.extra, np.zeros((1, EXTRA))])
        return i

    def add_prediction(self, value: str, flagged: bool) -> None:
        i = self.row(value)
        self.extra[i, 0] += 1
        self.extra[i, 1] += flagged

    def add_label(self, value: str, group: int, positive: bool, weight: float,
                  delay: float = 0.0) -> None:
        i = self.row(value)
        add_label_cell(self.cells[i, group], positive, weight)
        self.extra[i, 2] += delay

    def names(self) -> list[str]:
        return list(self.index)

    def __getstate__(self):
        return (self.index, self.cells, self.extra, self.max_values)

    def __setstate__(self, state) -> None:
        self.index, self.cells, self.extra, self.max_values = state


class Slice:
    """Everything the sketch keeps about the predictions of one slice of event time."""

    __slots__ = ("all", "flagged", "groups", "delays", "unhealthy")

    def __init__(self, k_all: int, k_flagged: int, score_bins: int):
        self.all = Bucket(k_all, score_bins, label_bins=1)
        self.flagged = Bucket(k_flagged, score_bins, label_bins=1)
        self.groups: dict[str, GroupTable] = {}
        self.delays = np.zeros(len(DELAY_EDGES) + 1)
        self.unhealthy = False      # a status of this time was breached or had an open alert

    def table(self, dimension: str, max_values: int) -> GroupTable:
        table = self.groups.get(dimension)
        if table is None:
            table = self.groups[dimension] = GroupTable(max_values)
        return table

    def __getstate__(self):
        return (self.all, self.flagged, self.groups, self.delays, self.unhealthy)

    def __setstate__(self, state) -> None:
        self.all, self.flagged, self.groups, self.delays, self.unhealthy = state


def merge_groups(slices: Iterable[Slice]) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Per dimension and value: (label cells (2, LABEL_FIELDS), extra (EXTRA,)) summed."""
    out: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for s in slices:
        for dim, table in s.groups.items():
            values = out.setdefault(dim, {})
            for name, i in table.index.items():
                cells, extra = values.get(name, (0.0, 0.0))
                values[name] = (table.cells[i] + cells, table.extra[i] + extra)
    return out


def delay_bin(delay: float) -> int:
    """The DELAY_EDGES bin of a delay in seconds.

    >>> delay_bin(5), delay_bin(10), delay_bin(100), delay_bin(1e6)
    (0, 1, 3, 11)
    """
    return int(np.searchsorted(DELAY_EDGES, delay, side="right"))

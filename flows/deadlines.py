"""Deadlines bucketed by minute: cheap to add, cheap to expire in order.

A heap entry per pending record would cost ~90 bytes each; a shared list per minute costs one
list slot (8 bytes). Expiry is therefore precise to the bucket width, which is documented as
the join's expiry granularity.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator


class DeadlineBuckets:
    """Ids grouped by the minute their deadline falls in.

    >>> d = DeadlineBuckets(width=60)
    >>> d.add("a", 100.0); d.add("b", 110.0); d.add("c", 200.0)
    >>> sorted(d.pop_due(120.0))        # bucket [60, 120) is fully past 120
    ['a', 'b']
    >>> list(d.pop_due(150.0))
    []
    >>> list(d.pop_due(240.0))
    ['c']
    """

    def __init__(self, width: float = 60.0) -> None:
        self.width = width
        self._buckets: dict[int, list[str]] = {}
        self._order: list[int] = []  # heap of bucket numbers present in _buckets

    def add(self, key: str, deadline: float) -> None:
        bucket = int(deadline // self.width)
        ids = self._buckets.get(bucket)
        if ids is None:
            self._buckets[bucket] = [key]
            heapq.heappush(self._order, bucket)
        else:
            ids.append(key)

    def pop_due(self, now: float) -> Iterator[str]:
        """Yield ids of every bucket that ends at or before `now` (deadline < now)."""
        while self._order and (self._order[0] + 1) * self.width <= now:
            bucket = heapq.heappop(self._order)
            yield from self._buckets.pop(bucket)

    def __len__(self) -> int:
        return sum(len(ids) for ids in self._buckets.values())

    def copy(self) -> DeadlineBuckets:
        twin = DeadlineBuckets(self.width)
        twin._buckets = {bucket: list(ids) for bucket, ids in self._buckets.items()}
        twin._order = list(self._order)
        return twin

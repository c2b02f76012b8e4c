"""Events waiting to go to PagerDuty, in order, with redundant updates folded together, and
which Kafka offsets may be committed because everything they caused is settled.

The responder sends the head of the queue and nothing behind it until the head is accepted or
rejected: pages reach PagerDuty in the order the alerts were written, also after an outage.
While the head waits (rate limit, outage), a newer trigger for the same incident replaces a
queued one instead of queueing behind it: PagerDuty would only have applied both in turn, and
the rate limit (about 120 events per minute per key) is better spent on other incidents.

A record's offset becomes committable only when every event it caused is settled *and* every
earlier record of its partition is: a restart then re-reads exactly what was not yet paged.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from remediation.inhibition import PageOrder


@dataclass
class Outbound:
    """One event to deliver, and the records (offsets of one partition) it settles."""

    partition: int
    order: PageOrder
    event: dict[str, Any]          # Events API v2 body without routing key
    offsets: list[int]
    attempts: int = 0              # failed delivery attempts so far
    not_before: float = 0.0        # monotonic time before which it is not tried again
    last_error: str | None = None
    coalesced: int = 0             # how many queued updates were folded into this one


@dataclass(frozen=True)
class Coalesced:
    """`superseded` will not be sent on its own: `into` carries it (or makes it redundant)."""

    superseded: PageOrder
    into: Outbound


class Outbox:
    """FIFO of events to send; coalesces redundant updates of one incident."""

    def __init__(self) -> None:
        self._items: deque[Outbound] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self):
        return iter(self._items)

    def head(self) -> Outbound | None:
        return self._items[0] if self._items else None

    def pop_head(self) -> Outbound:
        return self._items.popleft()

    def add(self, partition: int, order: PageOrder, event: dict[str, Any], offset: int) -> Coalesced | None:
        """Queue an event; if the incident's last queued event is the same kind to the same
        target, fold into it (a newer trigger replaces the older; a second resolve is dropped)."""
        last = self._last_for(partition, order.dedup_key)
        if last is not None and last.order.target == order.target and last.order.event_action == order.event_action:
            last.offsets.append(offset)
            last.coalesced += 1
            if order.event_action == "trigger":
                superseded, last.order, last.event = last.order, order, event
                return Coalesced(superseded, last)
            return Coalesced(order, last)
        self._items.append(Outbound(partition, order, event, [offset]))
        return None

    def drop_partitions(self, partitions: Iterable[int]) -> list[Outbound]:
        """Forget events of partitions this responder no longer owns (their records were not
        committed, so their new owner pages them)."""
        gone = set(partitions)
        dropped = [item for item in self._items if item.partition in gone]
        self._items = deque(item for item in self._items if item.partition not in gone)
        return dropped

    def _last_for(self, partition: int, dedup_key: str) -> Outbound | None:
        for item in reversed(self._items):
            if item.partition == partition and item.order.dedup_key == dedup_key:
                return item
        return None


@dataclass
class OffsetTracker:
    """Per partition: offsets received and how many of their events are still unsettled."""

    _open: dict[int, OrderedDict[int, int]] = field(default_factory=dict)
    _position: dict[int, int] = field(default_factory=dict)     # next offset safe to commit
    _committed: dict[int, int] = field(default_factory=dict)

    def received(self, partition: int, offset: int, unsettled: int) -> None:
        self._open.setdefault(partition, OrderedDict())[offset] = unsettled

    def settle(self, partition: int, offset: int) -> None:
        pending = self._open.get(partition)
        if pending is not None and offset in pending:
            pending[offset] = max(0, pending[offset] - 1)

    def committable(self) -> dict[int, int]:
        """partition -> offset to commit (next to read), for partitions that moved on."""
        out = {}
        for partition, pending in self._open.items():
            while pending and next(iter(pending.values())) == 0:
                offset, _ = pending.popitem(last=False)
                self._position[partition] = offset + 1
            position = self._position.get(partition)
            if position is not None and position != self._committed.get(partition):
                out[partition] = position
        return out

    def committed(self, positions: dict[int, int]) -> None:
        self._committed.update(positions)

    def unsettled(self) -> int:
        return sum(1 for pending in self._open.values() for n in pending.values() if n)

    def forget(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self._open.pop(partition, None)
            self._position.pop(partition, None)
            self._committed.pop(partition, None)

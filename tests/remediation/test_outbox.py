"""Queue order, coalescing of redundant updates, commit positions, rate limit and backoff."""

from __future__ import annotations

from remediation.inhibition import PageOrder
from remediation.outbox import OffsetTracker, Outbox
from remediation.rate_limit import Backoff, SlidingWindowLimiter
from tests.remediation.support import alert


def order(action: str, dedup: str, severity: str = "critical", target: str = "default") -> PageOrder:
    a = alert("trigger" if action == "trigger" else "resolve", severity, dedup_key=dedup, alert_id=dedup)
    return PageOrder(action, dedup, target, a, "test")


def test_a_newer_trigger_replaces_the_queued_one_in_its_place() -> None:
    box = Outbox()
    box.add(0, order("trigger", "k1", "warning"), {"v": 1}, 10)
    box.add(0, order("trigger", "k2"), {"v": 2}, 11)
    folded = box.add(0, order("trigger", "k1", "critical"), {"v": 3}, 12)
    assert folded is not None and folded.superseded.alert.severity == "warning"
    assert [(i.order.dedup_key, i.order.alert.severity, i.event, i.offsets) for i in box] == [
        ("k1", "critical", {"v": 3}, [10, 12]), ("k2", "critical", {"v": 2}, [11])]


def test_trigger_and_resolve_are_both_kept_in_order() -> None:
    box = Outbox()
    box.add(0, order("trigger", "k1"), {}, 1)
    assert box.add(0, order("resolve", "k1"), {}, 2) is None
    assert box.add(0, order("trigger", "k1"), {}, 3) is None   # a new episode after the resolve
    assert [i.order.event_action for i in box] == ["trigger", "resolve", "trigger"]


def test_updates_for_other_targets_or_partitions_are_not_folded() -> None:
    box = Outbox()
    box.add(0, order("trigger", "k1", target="tier:warning"), {}, 1)
    assert box.add(0, order("trigger", "k1", target="tier:critical"), {}, 2) is None
    assert box.add(1, order("trigger", "k1", target="tier:critical"), {}, 2) is None
    assert len(box) == 3


def test_a_second_resolve_is_redundant() -> None:
    box = Outbox()
    box.add(0, order("resolve", "k1"), {}, 1)
    folded = box.add(0, order("resolve", "k1"), {}, 2)
    assert folded is not None and len(box) == 1 and box.head().offsets == [1, 2]


def test_dropping_a_partition_keeps_the_others_in_order() -> None:
    box = Outbox()
    for n, partition in enumerate([0, 1, 0, 1]):
        box.add(partition, order("trigger", f"k{n}"), {}, n)
    dropped = box.drop_partitions([1])
    assert [i.order.dedup_key for i in dropped] == ["k1", "k3"]
    assert [i.order.dedup_key for i in box] == ["k0", "k2"]


def test_commit_position_waits_for_every_earlier_record() -> None:
    offsets = OffsetTracker()
    offsets.received(0, 5, 1)     # paged, not yet accepted
    offsets.received(0, 6, 0)     # suppressed: settled at once
    offsets.received(0, 7, 2)     # two events (trigger new service, resolve old one)
    assert offsets.committable() == {}
    offsets.settle(0, 7)
    offsets.settle(0, 5)
    assert offsets.committable() == {0: 7}       # 7 still has one event out
    offsets.committed({0: 7})
    assert offsets.committable() == {}
    offsets.settle(0, 7)
    assert offsets.committable() == {0: 8}
    offsets.forget([0])
    assert offsets.committable() == {}


def test_sliding_window_limit_per_key() -> None:
    limiter = SlidingWindowLimiter(per_minute=3, window=60.0)
    for t in (0.0, 10.0, 20.0):
        assert limiter.delay("a", t) == 0.0
        limiter.record("a", t)
    assert limiter.delay("a", 30.0) == 30.0       # the send at t=0 leaves the window at 60
    assert limiter.delay("b", 30.0) == 0.0        # other keys have their own budget
    assert limiter.delay("a", 60.0) == 0.0
    assert SlidingWindowLimiter(per_minute=None).delay("a", 0.0) == 0.0


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(initial=0.5, maximum=4.0)
    assert [backoff.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]

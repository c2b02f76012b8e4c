"""Drive a generator's events into a sink, as fast as possible or paced to the wall clock.

Fast-forward replays days of event time in seconds. Real-time mode sleeps so event time advances
`speed` times as fast as the wall clock (speed 60 = one minute of event time per second), which
is what a live demo needs.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

from simulator.durations import format_time
from simulator.stats import RunStats
from simulator.streams import TrafficGenerator


class Sink(Protocol):
    """Where events go: simulator.kafka_writer.KafkaWriter, simulator.jsonl_writer.JsonlWriter..."""

    counts: dict[str, int]

    def send(self, kind: str, event_time: float, record: dict) -> None: ...

    def tick(self) -> None:
        """Called while idle (real-time mode) to flush or serve callbacks."""

    def close(self) -> None: ...

    def describe(self) -> str: ...


class NullSink:
    """Counts events and drops them: measures generation alone (--dry-run)."""

    def __init__(self) -> None:
        self.counts = {"prediction": 0, "label": 0}

    def send(self, kind: str, event_time: float, record: dict) -> None:
        self.counts[kind] += 1

    def tick(self) -> None:
        pass

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "nowhere (dry run)"


@dataclass
class RunReport:
    stats: RunStats
    counts: dict[str, int] = field(default_factory=dict)
    wall_seconds: float = 0.0
    interrupted: bool = False

    @property
    def events_per_second(self) -> float:
        total = sum(self.counts.values())
        return total / self.wall_seconds if self.wall_seconds > 0 else float("inf")


def run_simulation(generator: TrafficGenerator, sink: Sink, *, realtime: bool = False,
                   speed: float = 1.0, progress: Callable[[str], None] | None = None,
                   progress_every: float = 10.0, clock: Callable[[], float] = time.monotonic,
                   sleep: Callable[[float], None] = time.sleep) -> RunReport:
    """Send every event to `sink` (closing it at the end) and report what happened.

    In real-time mode the event at time t is sent at wall time wall0 + (t - start) / speed.
    Ctrl-C (KeyboardInterrupt) stops early but still flushes the sink and returns the report.
    """
    if realtime and speed <= 0:
        raise ValueError("speed must be > 0")
    wall0 = clock()
    next_progress = wall0 + progress_every
    counts = {"prediction": 0, "label": 0}
    interrupted = False
    try:
        for kind, t, record in generator.events():
            if realtime:
                due = wall0 + (t - generator.start) / speed
                while (wait := due - clock()) > 0:
                    sleep(min(wait, 0.2))
                    sink.tick()
            sink.send(kind, t, record)
            counts[kind] += 1
            if progress is not None and (realtime or not counts["prediction"] & 0x3FF) \
                    and clock() >= next_progress:
                next_progress = clock() + progress_every
                progress(f"event time {format_time(t)}: {counts['prediction']:,} predictions, "
                         f"{counts['label']:,} labels sent")
    except KeyboardInterrupt:
        interrupted = True
    finally:
        sink.close()
    return RunReport(generator.stats, counts, clock() - wall0, interrupted)


def stderr_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)

"""Shared helpers for the simulator tests (import as tests.simulator.sim_helpers)."""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.durations import parse_time
from simulator.scenarios import Scenario
from simulator.streams import TrafficGenerator

START = parse_time("2025-01-06T00:00:00Z")
HOUR = 3600.0


@dataclass
class Collected:
    events: list = field(default_factory=list)        # (kind, time, record) in emitted order
    predictions: list = field(default_factory=list)   # (time, record)
    labels: list = field(default_factory=list)        # (time, record)

    @property
    def by_id(self) -> dict:
        return {r["prediction_id"]: (t, r) for t, r in self.predictions}


def collect(generator: TrafficGenerator) -> Collected:
    out = Collected()
    for kind, t, record in generator.events():
        out.events.append((kind, t, record))
        (out.predictions if kind == "prediction" else out.labels).append((t, record))
    return out


def make_generator(scenario: Scenario, *, hours: float = 6, rate: float = 20_000, seed: int = 7,
                   **kwargs) -> TrafficGenerator:
    return TrafficGenerator(scenario, start=START, duration=hours * HOUR, rate_per_hour=rate,
                            seed=seed, **kwargs)


def flagged_label_precision(c: Collected, lo: float, hi: float) -> tuple[float, int]:
    """Precision as a monitor would see it: labels of flagged predictions made in [lo, hi)."""
    preds = c.by_id
    hits = []
    for _, label in c.labels:
        t, pred = preds[label["prediction_id"]]
        if pred["predicted_label"] == 1 and lo <= t < hi:
            hits.append(label["label"])
    assert hits, "no labelled flagged predictions in the interval"
    return sum(hits) / len(hits), len(hits)

